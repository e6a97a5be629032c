// The agent's screen pop: what the suite knows of the caller, opened by the inbound number (a
// telephony system opens `/screen-pop?phone=...`): who they are, their open cases with the time
// left to each resolution target, and their latest orders.
import { Badge, Card, Stack, Table, Text, Title } from "@mantine/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useTranslation } from "react-i18next";
import { gateway } from "../../api/clients";
import { useLocation } from "../../app/router";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { dateTime, money } from "../../format";
import { Section, type ScreenPopResponse } from "../../gen/crm/gateway/v1/gateway_pb";
import { TableHead } from "../../components/TableParts";

export function ScreenPop() {
  const { t } = useTranslation();
  const phone = useLocation().query.get("phone") ?? "";
  const [call, retry] = useCall(() => gateway.screenPop({ phone, recentOrders: 5 }), [phone]);
  return (
    <Stack>
      <Title order={1}>{t("screenPop.title", { phone })}</Title>
      <Loaded call={call} retry={retry}>
        {(pop) => <Caller pop={pop} phone={phone} />}
      </Loaded>
    </Stack>
  );
}

function Caller({ pop, phone }: { pop: ScreenPopResponse; phone: string }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  if (!pop.identified) {
    return (
      <Card withBorder>
        <Text>{t("screenPop.unknown")}</Text>
        <Link to="/customers">{t("screenPop.search")}</Link>
      </Card>
    );
  }
  const failed = pop.statuses.filter((s) => s.code !== 0);
  const sla = new Map(pop.sla.map((s) => [s.caseId, s]));
  return (
    <Stack>
      <Title order={2}>
        <Link to={`/customers/${encodeURIComponent(pop.partyId)}`}>{pop.displayName}</Link>{" "}
        {pop.tier && <Badge variant="light">{pop.tier}</Badge>}
      </Title>
      {can(session.identity(), "service.work") && (
        <Link to={`/cases/new?party=${encodeURIComponent(pop.partyId)}&contact=${encodeURIComponent(phone)}`}>
          {t("screenPop.openCase")}
        </Link>
      )}
      {failed.map((s) => (
        <Text key={s.section} c="red.9" role="alert">
          {t("screenPop.unavailable", { section: t(`screenPop.sections.${Section[s.section]}`), message: s.message })}
        </Text>
      ))}
      <Card withBorder component="section" aria-label={t("c360.openCases")}>
        <Title order={3} size="h4">
          {t("c360.openCases")}
        </Title>
        {pop.openCases.length === 0 ? (
          <Text>{t("c360.noneYet")}</Text>
        ) : (
          <Table>
            <TableHead heads={[t("screenPop.subject"), t("screenPop.priority"), t("screenPop.resolutionDue")]} />
            <Table.Tbody>
              {pop.openCases.map((c) => {
                const state = sla.get(c.id);
                const minutes = Number(state?.minutesToResolutionDue ?? 0n);
                return (
                  <Table.Tr key={c.id}>
                    <Table.Td>
                      <Link to={`/cases/${encodeURIComponent(c.id)}`}>{c.subject}</Link>
                    </Table.Td>
                    <Table.Td>P{c.priority}</Table.Td>
                    <Table.Td>
                      {state?.resolutionBreached ? (
                        <Badge color="red.9">{t("screenPop.breached")}</Badge>
                      ) : (
                        t("screenPop.minutesLeft", { count: minutes })
                      )}
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        )}
      </Card>
      <Card withBorder component="section" aria-label={t("c360.recentOrders")}>
        <Title order={3} size="h4">
          {t("c360.recentOrders")}
        </Title>
        {pop.recentOrders.length === 0 ? (
          <Text>{t("c360.noneYet")}</Text>
        ) : (
          <Table>
            <Table.Tbody>
              {pop.recentOrders.map((o) => (
                <Table.Tr key={o.id}>
                  <Table.Td>{o.placeTime ? dateTime(timestampDate(o.placeTime), locale) : ""}</Table.Td>
                  <Table.Td>{o.total ? money(o.total.amountMinor, o.total.currencyCode, locale) : ""}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
    </Stack>
  );
}
