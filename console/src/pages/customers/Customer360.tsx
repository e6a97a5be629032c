// The customer 360: every section the gateway assembles, each with its own state, so one
// service being down or forbidden to the reader leaves the others readable.
import { Badge, Card, Group, List, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { gateway } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { count, dateTime, money, share } from "../../format";
import { Section, type GetCustomer360Response, type SectionStatus } from "../../gen/crm/gateway/v1/gateway_pb";
import type { Money } from "../../gen/crm/common/v1/money_pb";

export function Customer360({ id }: { id: string }) {
  const { t } = useTranslation();
  const [call, retry] = useCall(() => gateway.getCustomer360({ partyId: id, recentOrders: 10 }), [id]);
  return (
    <Stack>
      <Link to="/customers">{t("c360.back")}</Link>
      <Loaded call={call} retry={retry}>
        {(view) => <View view={view} />}
      </Loaded>
    </Stack>
  );
}

function View({ view }: { view: GetCustomer360Response }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const amount = (m?: Money) => (m ? money(m.amountMinor, m.currencyCode, locale) : "");
  const party = view.profile?.party;
  const status = (section: Section) => view.statuses.find((s) => s.section === section);
  return (
    <Stack>
      <Title order={1}>
        {party?.displayName ?? t("c360.title")}{" "}
        {party?.value?.tier && (
          <Badge size="lg" variant="light">
            {party.value.tier}
          </Badge>
        )}
      </Title>
      {party && (
        <Group gap="lg">
          {can(session.identity(), "customers.edit") && <Link to={`/customers/${encodeURIComponent(party.id)}/edit`}>{t("edit.open")}</Link>}
          <Link to={`/customers/${encodeURIComponent(party.id)}/network`}>{t("network.open")}</Link>
          {can(session.identity(), "customers.merge") && (
            <Link to={`/customers/duplicates?party=${encodeURIComponent(party.id)}`}>{t("duplicates.ofThis")}</Link>
          )}
        </Group>
      )}
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Part title={t("c360.profile")} status={status(Section.PROFILE)}>
          {party && (
            <Stack gap="xs">
              <Text>{t(`stages.${party.lifecycleStage}`)}</Text>
              <Text fw={600}>{t("c360.contactPoints")}</Text>
              <List>
                {party.contactPoints.map((c) => (
                  <List.Item key={c.id || c.value}>{c.value}</List.Item>
                ))}
              </List>
              <Text>
                {t("c360.relationships")}: {count(view.profile?.relationships.length ?? 0, locale)}
              </Text>
            </Stack>
          )}
        </Part>
        <Part title={t("c360.sales")} status={status(Section.SALES)}>
          {view.sales && (
            <Stack gap="xs">
              <Text>
                {t("c360.lifetimeValue")}: {view.sales.lifetimeValue.map(amount).join(" + ") || "—"}
              </Text>
              <Text>
                {t("c360.orders")}: {count(view.sales.orderCount, locale)}
              </Text>
              <Text fw={600}>{t("c360.openOpportunities")}</Text>
              <Listed
                items={view.sales.openOpportunities.map((o) => (
                  <Link key={o.id} to={`/opportunities/${encodeURIComponent(o.id)}`}>
                    {`${o.name} · ${o.stageCode} · ${amount(o.amount)}`}
                  </Link>
                ))}
              />
              <Text fw={600}>{t("c360.recentOrders")}</Text>
              <Table>
                <Table.Tbody>
                  {view.sales.recentOrders.map((o) => (
                    <Table.Tr key={o.id}>
                      <Table.Td>{o.placeTime ? dateTime(timestampDate(o.placeTime), locale) : ""}</Table.Td>
                      <Table.Td>{amount(o.total)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Stack>
          )}
        </Part>
        <Part title={t("c360.marketing")} status={status(Section.MARKETING)}>
          {view.marketing?.prediction ? (
            <Text>
              {t("c360.probabilityAlive")}: {share(Number(view.marketing.prediction.probabilityAliveBps), locale)}
            </Text>
          ) : (
            <Listed items={[]} />
          )}
        </Part>
        <Part title={t("c360.service")} status={status(Section.SERVICE)}>
          {view.service && (
            <Stack gap="xs">
              <Text fw={600}>{t("c360.openCases")}</Text>
              <Listed
                items={view.service.openCases.map((c) => (
                  <Link key={c.id} to={`/cases/${encodeURIComponent(c.id)}`}>
                    {c.subject}
                  </Link>
                ))}
              />
              {can(session.identity(), "service.work") && party && (
                <Link to={`/cases/new?party=${encodeURIComponent(party.id)}`}>{t("c360.openCase")}</Link>
              )}
            </Stack>
          )}
        </Part>
        <Part title={t("c360.channel")} status={status(Section.CHANNEL)}>
          {view.channel && <Listed items={view.channel.partners.map((p) => p.name)} />}
        </Part>
      </SimpleGrid>
    </Stack>
  );
}

/** One section: its content, or why it is missing. */
function Part({ title, status, children }: { title: string; status?: SectionStatus; children: ReactNode }) {
  const { t } = useTranslation();
  const failed = status && status.code !== 0;
  return (
    <Card withBorder component="section" aria-label={title}>
      <Group justify="space-between" mb="xs">
        <Title order={2} size="h4">
          {title}
        </Title>
      </Group>
      {failed ? (
        <Text c="red.9" role="alert">
          {t("c360.unavailable", { message: status.message })}
        </Text>
      ) : (
        children
      )}
    </Card>
  );
}

function Listed({ items }: { items: ReactNode[] }) {
  const { t } = useTranslation();
  if (items.length === 0) return <Text>{t("c360.noneYet")}</Text>;
  return (
    <List>
      {items.map((item, i) => (
        <List.Item key={i}>{item}</List.Item>
      ))}
    </List>
  );
}
