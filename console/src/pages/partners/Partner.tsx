// A partner: its place in the channel, agreement, contacts and status history; its scorecards
// (weighted KPIs and the tier they recommend), evaluated for a period by the channel's managers;
// and its performance against target, one click away.
import { Badge, Button, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useState, type FormEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { partners, scorecards } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Failure } from "../../components/Failure";
import { Link } from "../../components/Link";
import { Listing } from "../../components/Listing";
import { PartyName } from "../../components/PartyName";
import { PeriodInput, quarterOf } from "../../components/PeriodInput";
import { PartyPicker } from "../../components/PartyPicker";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { Section } from "../../components/Section";
import { useAction } from "../../components/useAction";
import { calendarDay, dateTime, share } from "../../format";
import type { Party } from "../../gen/crm/customers/v1/customers_pb";
import type { Partner as PartnerRecord } from "../../gen/crm/partners/v1/partners_pb";
import { TierRecommendation, type Scorecard } from "../../gen/crm/partners/v1/scorecards_pb";
import { PartnersNav } from "./PartnersNav";
import { Facts, TableHead } from "../../components/TableParts";

export function Partner({ id }: { id: string }) {
  const { t } = useTranslation();
  const [call, retry] = useCall(() => partners.getPartner({ id }), [id]);
  return (
    <Stack>
      <PartnersNav />
      <Loaded call={call} retry={retry}>
        {({ partner }) =>
          partner && (
            <Stack>
              <Title order={1}>
                {partner.name}{" "}
                <Badge size="lg" variant="light">
                  {t(`hierarchy.statuses.${partner.status}`)}
                </Badge>
              </Title>
              <Link to={`/partners?partner=${encodeURIComponent(partner.id)}&dim=period`}>{t("partner.performance")}</Link>
              <SimpleGrid cols={{ base: 1, md: 2 }}>
                <Details partner={partner} onChanged={retry} />
                <History partner={partner} />
              </SimpleGrid>
              {can(session.identity(), "partners.staff") && <Scorecards partnerId={partner.id} />}
            </Stack>
          )
        }
      </Loaded>
    </Stack>
  );
}

function Details({ partner, onChanged }: { partner: PartnerRecord; onChanged: () => void }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const [action, run] = useAction();
  // The customer party the partner's e-orders are sold to.
  const setAccount = async (party: Party) => {
    const change = { partner: { id: partner.id, etag: partner.etag, partyId: party.id }, updateMask: { paths: ["party_id"] } };
    if (await run(() => partners.updatePartner(change))) onChanged();
  };
  const rows: [string, ReactNode][] = [
    [t("partner.type"), t(`hierarchy.types.${partner.type}`)],
    [t("partner.tier"), partner.tier],
    [t("partner.above"), partner.parentId && <PartnerLink id={partner.parentId} />],
    [t("partner.regions"), partner.regionCodes.join(", ")],
    [t("partner.model"), t(`partner.models.${partner.operatingModel}`)],
    [
      t("partner.agreement"),
      partner.agreementStart && `${calendarDay(partner.agreementStart, locale)} – ${partner.agreementEnd ? calendarDay(partner.agreementEnd, locale) : t("partner.openEnded")}`,
    ],
    [t("partner.manager"), partner.managerId],
    [t("partner.account"), partner.partyId && <PartyName id={partner.partyId} />],
    [t("partner.contacts"), partner.contacts.map((c) => [c.name, c.role, c.email, c.phone].filter(Boolean).join(" · ")).join("; ")],
  ];
  return (
    <Section title={t("partner.details")}>
      <Facts rows={rows} />
      {/* Choosing the account searches the customers, which not every partner manager reads. */}
      {can(session.identity(), "partners.manage") && can(session.identity(), "customers.search") && (
        <>
          <Failure action={action} />
          <PartyPicker label={t("partner.setAccount")} onPick={(party) => void setAccount(party)} />
        </>
      )}
    </Section>
  );
}

/** Another partner by name, linking to it. */
function PartnerLink({ id }: { id: string }) {
  const [call] = useCall(() => partners.getPartner({ id }), [id]);
  return <Link to={`/partners/p/${encodeURIComponent(id)}`}>{call.state === "done" ? (call.value.partner?.name ?? id) : id}</Link>;
}

function History({ partner }: { partner: PartnerRecord }) {
  const { t, i18n } = useTranslation();
  return (
    <Section title={t("partner.history")}>
      <Listing
        items={[...partner.statusHistory].reverse()}
        head={[t("partner.when"), t("partner.change"), t("partner.reason")]}
        row={(c) => (
          <Table.Tr key={`${c.effectiveDate}/${c.toStatus}/${c.changeTime?.seconds}`}>
            <Table.Td>{calendarDay(c.effectiveDate, i18n.language)}</Table.Td>
            <Table.Td>
              {t(`hierarchy.statuses.${c.fromStatus}`)} → {t(`hierarchy.statuses.${c.toStatus}`)}
            </Table.Td>
            <Table.Td>{c.reason}</Table.Td>
          </Table.Tr>
        )}
      />
    </Section>
  );
}

function Scorecards({ partnerId }: { partnerId: string }) {
  const { t } = useTranslation();
  const paging = usePaging();
  const [call, retry] = useCall(() => scorecards.listScorecards({ partnerId, pageSize: 20, pageToken: paging.token }), [partnerId, paging.token]);
  return (
    <Section title={t("partner.scorecards")}>
      {can(session.identity(), "partners.manage") && (
        <Evaluate
          partnerId={partnerId}
          onEvaluated={() => {
            paging.reset();
            retry();
          }}
        />
      )}
      <Loaded call={call} retry={retry}>
        {(page) =>
          page.scorecards.length === 0 ? (
            <Text>{t("partner.noScorecard")}</Text>
          ) : (
            <Stack>
              {page.scorecards.map((s) => (
                <Card key={`${s.period}/${s.evaluateTime?.seconds}`} scorecard={s} />
              ))}
              <More paging={paging} nextPageToken={page.nextPageToken} />
            </Stack>
          )
        }
      </Loaded>
    </Section>
  );
}

const RECOMMENDATION_COLOURS: Record<TierRecommendation, string | undefined> = {
  [TierRecommendation.UNSPECIFIED]: undefined,
  [TierRecommendation.PROMOTE]: "teal.9",
  [TierRecommendation.KEEP]: undefined,
  [TierRecommendation.DEMOTE]: "red.9",
};

function Card({ scorecard }: { scorecard: Scorecard }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const colour = RECOMMENDATION_COLOURS[scorecard.recommendation];
  return (
    <section aria-label={t("partner.scorecardOf", { period: scorecard.period })}>
      <Group gap="sm">
        <Text fw={700}>{t("partner.scorecardOf", { period: scorecard.period })}</Text>
        <Text>{t("partner.score", { score: scorecard.score })}</Text>
        <Badge color={colour} variant={colour ? "filled" : "light"}>
          {t(`partner.recommendations.${scorecard.recommendation}`)}
        </Badge>
        <Text size="sm">{scorecard.evaluateTime && dateTime(timestampDate(scorecard.evaluateTime), locale)}</Text>
      </Group>
      <Table>
        <TableHead heads={["partner.kpi", "partner.measured", "partner.kpiScore", "partner.weight"].map((h) => t(h))} />
        <Table.Tbody>
          {scorecard.kpis.map((k) => (
            <Table.Tr key={k.name}>
              <Table.Th scope="row">{t(`partner.kpis.${k.name}`, { defaultValue: k.name })}</Table.Th>
              {/* Complaints are a count; the other KPIs are shares. */}
              <Table.Td>{k.name === "complaints" ? String(k.value) : share(Number(k.value), locale)}</Table.Td>
              <Table.Td>{k.score}</Table.Td>
              <Table.Td>{share(k.weightBps, locale)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </section>
  );
}

function Evaluate({ partnerId, onEvaluated }: { partnerId: string; onEvaluated: () => void }) {
  const { t } = useTranslation();
  const [period, setPeriod] = useState(() => quarterOf(new Date()));
  const [action, run] = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await run(() => scorecards.evaluateScorecard({ partnerId, period }))) onEvaluated();
  };
  return (
    <form onSubmit={submit} aria-label={t("partner.evaluate")}>
      <Failure action={action} />
      <Group align="end" mb="sm">
        <PeriodInput value={period} onChange={setPeriod} error={action.fields.period} />
        <Button type="submit" variant="default" loading={action.busy}>
          {t("partner.evaluate")}
        </Button>
      </Group>
    </form>
  );
}
