// Partner performance against target: rows by partner, period, product category, product or
// region within the scope drilled to, each with its target, actual and the target pro-rated to
// the time elapsed; rows behind plan are marked, and the exception cells of the period (partner
// x month x category under plan) are listed with their path, each opening where it sits.
// A partner's own staff see their own partner and those below it only: the service decides.
import { Anchor, Badge, Card, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { partners } from "../../api/clients";
import { PartnersNav } from "./PartnersNav";
import { navigate, useLocation } from "../../app/router";
import { session } from "../../auth/session";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { money, share } from "../../format";
import { Dimension, type PerformanceRow } from "../../gen/crm/partners/v1/partners_pb";
import { behind, deeper, drillHref, exceptionDrill, readDrill, type Drill } from "./drill";
import { Section } from "../../components/Section";
import { Listing } from "../../components/Listing";
import { TableHead } from "../../components/TableParts";

const DIMENSIONS = [Dimension.PARTNER, Dimension.PERIOD, Dimension.PRODUCT_CATEGORY, Dimension.PRODUCT, Dimension.REGION];

export function Performance() {
  const { t } = useTranslation();
  const { query } = useLocation();
  const own = session.identity()?.partnerId ?? "";
  // A partner's own staff start at their partner by period; the channel's at every channel.
  const drill = readDrill(query, {
    period: String(new Date().getUTCFullYear()),
    partner: own,
    dimension: own ? Dimension.PERIOD : Dimension.PARTNER,
  });
  const [period, setPeriod] = useState(drill.period);
  const go = (next: Drill) => navigate(drillHref(next));
  const [call, retry] = useCall(
    () =>
      partners.getPerformance({
        partnerId: drill.partner,
        period: drill.period,
        dimension: drill.dimension,
        productCategory: drill.category,
      }),
    [drill.partner, drill.period, drill.dimension, drill.category],
  );

  return (
    <Stack>
      <PartnersNav />
      <Title order={1}>{t("partners.title")}</Title>
      <Group align="end">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            go({ ...drill, period: period.trim(), focus: "" });
          }}
        >
          <TextInput label={t("partners.period")} description={t("partners.periodHint")} value={period} onChange={(e) => setPeriod(e.currentTarget.value)} />
        </form>
        <NativeSelect
          label={t("partners.rowsBy")}
          value={String(drill.dimension)}
          onChange={(e) => go({ ...drill, dimension: Number(e.currentTarget.value), focus: "" })}
          data={DIMENSIONS.map((d) => ({ value: String(d), label: t(`partners.dimensions.${d}`) }))}
        />
      </Group>
      <Loaded call={call} retry={retry}>
        {(found) => (
          <Card withBorder component="section" aria-label={t("partners.performance")}>
            <Crumbs drill={drill} path={found.total?.path ?? []} own={own} go={go} />
            <Rows drill={drill} rows={found.rows} total={found.total} />
          </Card>
        )}
      </Loaded>
      <Exceptions period={drill.period} />
    </Stack>
  );
}

/** Where the drill stands, each level above a way back up. */
function Crumbs(props: { drill: Drill; path: string[]; own: string; go: (d: Drill) => void }) {
  const { drill, path, own, go } = props;
  const { t } = useTranslation();
  const top = { ...drill, partner: own, category: "", dimension: Dimension.PARTNER, focus: "" };
  const scope = { ...drill, category: "", dimension: Dimension.PERIOD, focus: "" };
  const atScope = !drill.category && drill.dimension === Dimension.PERIOD;
  const crumbs: { label: string; to?: Drill }[] = [
    { label: t(own ? "partners.yourChannel" : "partners.allChannels"), to: drill.partner !== own ? top : undefined },
  ];
  if (drill.partner && drill.partner !== own) crumbs.push({ label: path[0], to: atScope ? undefined : scope });
  crumbs.push({ label: drill.period });
  if (drill.category) crumbs.push({ label: drill.category });
  return (
    <Group component="nav" aria-label={t("partners.where")} gap={6} mb="sm">
      {crumbs.map((c, i) => (
        <Group key={i} gap={6}>
          {i > 0 && <Text aria-hidden>›</Text>}
          {c.to ? (
            <Anchor href={drillHref(c.to)} onClick={(e) => (e.preventDefault(), go(c.to!))}>
              {c.label}
            </Anchor>
          ) : (
            <Text fw={600}>{c.label}</Text>
          )}
        </Group>
      ))}
    </Group>
  );
}

function Rows(props: { drill: Drill; rows: PerformanceRow[]; total?: PerformanceRow }) {
  const { drill, rows, total } = props;
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const amount = (m?: { amountMinor: bigint; currencyCode: string }) => (m ? money(m.amountMinor, m.currencyCode, locale) : "");
  if (rows.length === 0) return <Text>{t("partners.noFigures")}</Text>;
  const line = (row: PerformanceRow, label: ReactNode, focused = false) => (
    <>
      <Table.Td>{label}</Table.Td>
      <Table.Td>{amount(row.target)}</Table.Td>
      <Table.Td>{amount(row.expected)}</Table.Td>
      <Table.Td>{amount(row.actual)}</Table.Td>
      <Table.Td>{row.attainmentBps || row.target?.amountMinor ? share(row.attainmentBps, locale) : "—"}</Table.Td>
      <Table.Td>
        {behind(row) ? (
          <Badge color="red.9">{t("partners.behind")}</Badge>
        ) : (
          <Text size="sm">{t("partners.onPlan")}</Text>
        )}
        {focused && (
          <Badge color="yellow.4" autoContrast ml="xs">
            {t("partners.exception")}
          </Badge>
        )}
      </Table.Td>
    </>
  );
  return (
    <Table highlightOnHover>
      <TableHead heads={[t(`partners.dimensions.${drill.dimension}`), t("partners.target"), t("partners.expected"), t("partners.actual"), t("partners.attainment"), t("partners.againstPlan")]} />
      <Table.Tbody>
        {rows.map((row) => {
          const below = deeper(drill, row.key);
          const focused = !!drill.focus && row.key === drill.focus;
          return (
            <Table.Tr key={row.key} bg={focused ? "yellow.1" : behind(row) ? "red.0" : undefined} aria-current={focused || undefined}>
              {line(row, below ? <Link to={drillHref(below)}>{row.label}</Link> : row.label, focused)}
            </Table.Tr>
          );
        })}
      </Table.Tbody>
      {total && (
        <Table.Tfoot>
          <Table.Tr fw={700}>{line(total, t("partners.total"))}</Table.Tr>
        </Table.Tfoot>
      )}
    </Table>
  );
}

/** The period's exception cells, worst first, each leading to where it sits. */
function Exceptions({ period }: { period: string }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const paging = usePaging();
  const [call, retry] = useCall(
    () => partners.listExceptions({ period, pageSize: 20, pageToken: paging.token }),
    [period, paging.token],
  );
  return (
    <Section title={t("partners.exceptions")}>
      <Text size="sm" mb="xs">
        {t("partners.exceptionsHint")}
      </Text>
      <Loaded call={call} retry={retry}>
        {(page) => (
          <Listing
            items={page.exceptions}
            row={(e) => (
              <Table.Tr key={e.key}>
                <Table.Td>
                  <Link to={drillHref(exceptionDrill(e.key))}>{e.path.join(" › ")}</Link>
                </Table.Td>
                <Table.Td>
                  {e.actual ? money(e.actual.amountMinor, e.actual.currencyCode, locale) : ""} /{" "}
                  {e.expected ? money(e.expected.amountMinor, e.expected.currencyCode, locale) : ""}
                </Table.Td>
                <Table.Td>{share(e.attainmentBps, locale)}</Table.Td>
              </Table.Tr>
            )}
            more={<More paging={paging} nextPageToken={page.nextPageToken} size="xs" />}
          />
        )}
      </Loaded>
    </Section>
  );
}
