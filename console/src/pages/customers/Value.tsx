// The value pyramid: the customers ranked by what they contribute, in tiers from the top, with
// the Pareto figure the practice reads first (how much the top fifth makes), and how customers
// moved between tiers over the last quarter.
import { Alert, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { customers } from "../../api/clients";
import type { ChartOption } from "../../charts/echarts";
import { Chart } from "../../components/Chart";
import { Figure } from "../../components/Figure";
import { Loaded, useCall } from "../../components/Loaded";
import { Section } from "../../components/Section";
import { count, dateTime, money, share } from "../../format";
import type { GetValuePyramidResponse } from "../../gen/crm/customers/v1/customers_pb";
import type { Money } from "../../gen/crm/common/v1/money_pb";
import { CustomersNav } from "./CustomersNav";
import { TableHead } from "../../components/TableParts";

/** The tier migration compares now with this many days ago. */
const MIGRATION_DAYS = 90;
const TIER_COLOURS = ["#1864ab", "#087f5b", "#862e9c", "#5c3d00", "#495057", "#c92a2a"];

export function Value() {
  const { t } = useTranslation();
  const [call, retry] = useCall(() => customers.getValuePyramid({}), []);
  return (
    <Stack>
      <CustomersNav />
      <Title order={1}>{t("value.title")}</Title>
      <Loaded call={call} retry={retry}>
        {(pyramid) => <Pyramid pyramid={pyramid} />}
      </Loaded>
      <Migration />
    </Stack>
  );
}

function Pyramid({ pyramid }: { pyramid: GetValuePyramidResponse }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const amount = (m?: Money) => (m ? money(m.amountMinor, m.currencyCode, locale) : "—");
  const option = useMemo(
    (): ChartOption => ({
      tooltip: {},
      series: [
        {
          type: "funnel",
          // The top tier, fewest customers, at the top: a pyramid, in the tiers' own order.
          sort: "none",
          funnelAlign: "center",
          minSize: "12%",
          label: { show: true, position: "inside", color: "#fff", formatter: "{b}" },
          data: pyramid.levels.map((l, i) => ({
            name: l.name,
            value: Number(l.customers),
            itemStyle: { color: TIER_COLOURS[i % TIER_COLOURS.length] },
          })),
        },
      ],
    }),
    [pyramid],
  );
  if (pyramid.rankedCustomers === 0n) return <Text>{t("value.unranked")}</Text>;
  return (
    <Stack>
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <Figure label={t("value.pareto")} value={pyramid.pareto} />
        <Figure label={t("value.ranked")} value={count(pyramid.rankedCustomers, locale)} />
        <Figure label={t("value.revenue")} value={amount(pyramid.totalRevenue)} />
      </SimpleGrid>
      <Text size="sm">
        {t("value.paretoHint", {
          share: share(pyramid.top20PercentContributionShareBps, locale),
          customers: share(pyramid.customersFor80PercentRevenueBps, locale),
        })}{" "}
        {pyramid.rankTime && t("value.rankedAt", { time: dateTime(timestampDate(pyramid.rankTime), locale) })}
      </Text>
      {!pyramid.costToServeKnown && (
        <Alert variant="light">
          {t("value.noCostToServe")}
        </Alert>
      )}
      <Section title={t("value.pyramid")}>
        <Chart option={option} label={t("value.chartLabel")} height={280} />
        <Table>
          <TableHead heads={["value.tier", "value.customers", "value.revenue", "value.revenueShare", "value.contribution", "value.contributionShare"].map((h) => t(h))} />
          <Table.Tbody>
            {pyramid.levels.map((l) => (
              <Table.Tr key={l.name}>
                <Table.Th scope="row">{l.name}</Table.Th>
                <Table.Td>{count(l.customers, locale)}</Table.Td>
                <Table.Td>{amount(l.revenue)}</Table.Td>
                <Table.Td>{share(l.revenueShareBps, locale)}</Table.Td>
                <Table.Td>{amount(l.contribution)}</Table.Td>
                <Table.Td>{share(l.contributionShareBps, locale)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Section>
    </Stack>
  );
}


function Migration() {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const [call, retry] = useCall(() => {
    const now = new Date();
    const from = new Date(now.getTime() - MIGRATION_DAYS * 86_400_000);
    return customers.getTierMigration({ fromTime: timestampFromDate(from), toTime: timestampFromDate(now) });
  }, []);
  return (
    <Section title={t("value.migration", { days: MIGRATION_DAYS })}>
      <Loaded call={call} retry={retry}>
        {(m) => (
          <Stack gap="xs">
            <Group gap="xl">
              <Text>{t("value.movedUp", { n: count(m.movedUp, locale) })}</Text>
              <Text>{t("value.movedDown", { n: count(m.movedDown, locale) })}</Text>
              <Text>{t("value.movedIn", { n: count(m.movedIn, locale) })}</Text>
              <Text>{t("value.movedOut", { n: count(m.movedOut, locale) })}</Text>
              <Text>{t("value.unchanged", { n: count(m.unchanged, locale) })}</Text>
            </Group>
            <Table>
              <TableHead heads={[t("value.from"), t("value.to"), t("value.customers")]} />
              <Table.Tbody>
                {m.moves
                  .filter((mv) => mv.fromTier !== mv.toTier)
                  .map((mv) => (
                    <Table.Tr key={`${mv.fromTier}>${mv.toTier}`}>
                      <Table.Td>{mv.fromTier || t("value.unrankedTier")}</Table.Td>
                      <Table.Td>{mv.toTier || t("value.unrankedTier")}</Table.Td>
                      <Table.Td>{count(mv.customers, locale)}</Table.Td>
                    </Table.Tr>
                  ))}
              </Table.Tbody>
            </Table>
          </Stack>
        )}
      </Loaded>
    </Section>
  );
}
