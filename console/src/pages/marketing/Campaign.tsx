// A campaign through the test-cell method: select its members (each in their RFM cell), contact
// the test group (1 in N of every cell), record the responses, compare each cell's response rate
// with the break-even line, and roll out to the cells above it, and only those.
import { Badge, Button, Group, Stack, Table, Text, Title } from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { campaigns } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Failure } from "../../components/Failure";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { PartyName } from "../../components/PartyName";
import { More, usePaging } from "../../components/Paging";
import { Section } from "../../components/Section";
import { useAction } from "../../components/useAction";
import { count, money, share } from "../../format";
import { CampaignStatus, type Campaign as Plan, type CellResult, type ContactRun } from "../../gen/crm/marketing/v1/campaigns_pb";
import { TableHead } from "../../components/TableParts";

export function Campaign({ id }: { id: string }) {
  const { t } = useTranslation();
  const [call, retry] = useCall(async () => (await campaigns.getCampaign({ id })).campaign!, [id]);
  // What the last step did: kept here, as the campaign is read again after each step.
  const [said, setSaid] = useState("");
  return (
    <Stack>
      <Link to="/campaigns">{t("campaigns.back")}</Link>
      <Text role="status" aria-live="polite">
        {said}
      </Text>
      <Loaded call={call} retry={retry}>
        {(plan) => <View plan={plan} onChanged={retry} say={setSaid} />}
      </Loaded>
    </Stack>
  );
}

function View({ plan, onChanged, say }: { plan: Plan; onChanged: () => void; say: (what: string) => void }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const mayAct = can(session.identity(), "marketing.act");
  const [action, run] = useAction();
  const step = (change: () => Promise<string>) => run(async () => say(await change())).then((ok) => ok && onChanged());
  const tested = plan.status === CampaignStatus.TESTING || plan.status === CampaignStatus.ROLLED_OUT || plan.status === CampaignStatus.CLOSED;
  const amount = (m?: { amountMinor: bigint; currencyCode: string }) => (m ? money(m.amountMinor, m.currencyCode, locale) : "");

  return (
    <Stack>
      <Title order={1}>
        {plan.name}{" "}
        <Badge size="lg" variant="light">
          {t(`campaigns.statuses.${plan.status}`)}
        </Badge>
      </Title>
      <Group gap="xl">
        <Text>
          {t("campaigns.costPerContact")}: {amount(plan.costPerContact)}
        </Text>
        <Text>
          {t("campaigns.profitPerResponse")}: {amount(plan.netProfitPerResponse)}
        </Text>
        <Text>
          {t("campaigns.breakEven")}: {share(Number(plan.breakEvenBps), locale)}
        </Text>
        <Text>{t("campaigns.testOneIn", { n: plan.testEveryN })}</Text>
      </Group>
      {mayAct && plan.status !== CampaignStatus.CLOSED && (
        <Group>
          {plan.status === CampaignStatus.DRAFT && (
            <>
              <Button
                variant="default"
                loading={action.busy}
                onClick={() =>
                  void step(async () => {
                    const r = await campaigns.selectMembers({ campaignId: plan.id });
                    return r.selection && !r.selection.finishTime
                      ? t("campaigns.selecting", { selected: count(r.selected, locale) })
                      : t("campaigns.selected", { selected: count(r.selected, locale), suppressed: count(r.suppressed, locale) });
                  })
                }
              >
                {t("campaigns.select")}
              </Button>
              <Button
                loading={action.busy}
                onClick={() =>
                  void step(async () => {
                    const r = await campaigns.startTest({ campaignId: plan.id });
                    return r.run?.finishTime
                      ? t("campaigns.contacted", { contacted: count(r.contacted, locale) })
                      : t("campaigns.underWay", { contacted: count(r.contacted, locale), toContact: count(r.run?.toContact ?? 0n, locale) });
                  })
                }
              >
                {t("campaigns.startTest")}
              </Button>
            </>
          )}
          {plan.status === CampaignStatus.TESTING && (
            <Button
              loading={action.busy}
              onClick={() =>
                void step(async () => {
                  const r = await campaigns.rollOut({ campaignId: plan.id });
                  return r.run?.finishTime
                    ? t("campaigns.rolledOut", { contacted: count(r.contacted, locale), cells: r.cells.join(", ") || "—" })
                    : t("campaigns.underWay", { contacted: count(r.contacted, locale), toContact: count(r.run?.toContact ?? 0n, locale) });
                })
              }
            >
              {t("campaigns.rollOut")}
            </Button>
          )}
          <Button variant="default" color="red" loading={action.busy} onClick={() => void step(async () => (await campaigns.closeCampaign({ campaignId: plan.id }), ""))}>
            {t("campaigns.close")}
          </Button>
        </Group>
      )}
      {plan.contactRun && <RunLine run={plan.contactRun} onChanged={onChanged} />}
      <Failure action={action} />
      {tested && <Results plan={plan} />}
      {tested && <Members plan={plan} mayRecord={mayAct && plan.status === CampaignStatus.TESTING} />}
    </Stack>
  );
}

/** The latest contact run; read again every few seconds while it is under way. */
function RunLine({ run, onChanged }: { run: ContactRun; onChanged: () => void }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const underWay = !run.finishTime;
  useEffect(() => {
    if (!underWay) return;
    const timer = setTimeout(onChanged, 2000);
    return () => clearTimeout(timer);
  }, [underWay, run.considered, onChanged]);
  const state = underWay ? "runUnderWay" : run.stopped ? "runStopped" : "runDone";
  return (
    <Group gap="sm">
      <Text fw={500}>{t(`campaigns.runs.${run.phase}`)}</Text>
      <Badge variant="light">
        {t(`campaigns.${state}`)}
      </Badge>
      <Text>
        {t("campaigns.runProgress", {
          contacted: count(run.contacted, locale),
          toContact: count(run.toContact, locale),
          suppressed: count(run.suppressed, locale),
          capped: count(run.capped, locale),
        })}
      </Text>
    </Group>
  );
}

/** Each cell's test against the break-even line. */
function Results({ plan }: { plan: Plan }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const [call, retry] = useCall(() => campaigns.getTestResults({ campaignId: plan.id }), [plan.id, plan.status]);
  return (
    <Section title={t("campaigns.results")}>
      <Loaded call={call} retry={retry}>
        {(found) => {
          const line = Number(found.breakEvenBps);
          const tested = found.cells.filter((c) => c.tested > 0n);
          // The scale: twice the break-even line, or the best cell if it is higher.
          const scale = Math.max(line * 2, ...tested.map((c) => Number(c.responseRateBps)), 1);
          return tested.length === 0 ? (
            <Text>{t("c360.noneYet")}</Text>
          ) : (
            <Table>
              <TableHead heads={[t("campaigns.cell"), t("campaigns.members"), t("campaigns.tested"), t("campaigns.responses"), t("campaigns.rate"), t("campaigns.againstBreakEven", { line: share(line, locale) })]} />
              <Table.Tbody>
                {tested.map((c) => (
                  <ResultRow key={c.cell} cell={c} line={line} scale={scale} />
                ))}
              </Table.Tbody>
            </Table>
          );
        }}
      </Loaded>
    </Section>
  );
}

function ResultRow({ cell, line, scale }: { cell: CellResult; line: number; scale: number }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const rate = Number(cell.responseRateBps);
  return (
    <Table.Tr data-selected={cell.selected || undefined}>
      <Table.Td>{cell.cell}</Table.Td>
      <Table.Td>{count(cell.members, locale)}</Table.Td>
      <Table.Td>{count(cell.tested, locale)}</Table.Td>
      <Table.Td>{count(cell.responses, locale)}</Table.Td>
      <Table.Td>{share(rate, locale)}</Table.Td>
      <Table.Td>
        <Group gap="xs" wrap="nowrap">
          {/* The rate as a bar, the break-even line across it. */}
          <div className="rate-bar" aria-hidden>
            <div className="rate-fill" style={{ width: `${Math.min(100, (rate / scale) * 100)}%` }} />
            <div className="rate-line" style={{ left: `${(line / scale) * 100}%` }} />
          </div>
          {cell.selected ? <Badge color="teal.9">{t("campaigns.above")}</Badge> : <Text size="sm">{t("campaigns.below")}</Text>}
        </Group>
      </Table.Td>
    </Table.Tr>
  );
}

/** The members with their cell and status; a test member's response is recorded here when it
 * came by phone or post rather than by the campaign's code. */
function Members({ plan, mayRecord }: { plan: Plan; mayRecord: boolean }) {
  const { t } = useTranslation();
  const paging = usePaging();
  const [call, retry] = useCall(() => campaigns.listCampaignMembers({ campaignId: plan.id, pageSize: 50, pageToken: paging.token }), [plan.id, plan.status, paging.token]);
  const [action, run] = useAction();
  const record = (partyId: string) =>
    run(() => campaigns.recordResponse({ campaignId: plan.id, partyId, responseId: `console:${plan.id}:${partyId}` })).then((ok) => ok && retry());
  return (
    <Section title={t("campaigns.memberList")}>
      <Failure action={action} />
      <Loaded call={call} retry={retry}>
        {(page) => (
          <>
            <Table>
              <TableHead heads={[t("campaigns.customer"), t("campaigns.cell"), t("campaigns.group"), t("quotes.status"), t("quotes.actions")]} />
              <Table.Tbody>
                {page.members.map((m) => (
                  <Table.Tr key={m.partyId}>
                    <Table.Td>
                      <PartyName id={m.partyId} />
                    </Table.Td>
                    <Table.Td>{m.cell}</Table.Td>
                    <Table.Td>{t(m.testGroup ? "campaigns.testGroup" : "campaigns.rest")}</Table.Td>
                    <Table.Td>{t(`campaigns.memberStatuses.${m.status}`, { defaultValue: m.status })}</Table.Td>
                    <Table.Td>
                      {mayRecord && m.status === "contacted" && (
                        <Button size="xs" variant="default" onClick={() => void record(m.partyId)} aria-label={t("campaigns.recordFor", { cell: m.cell })}>
                          {t("campaigns.record")}
                        </Button>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            <More paging={paging} nextPageToken={page.nextPageToken} size="xs" />
          </>
        )}
      </Loaded>
    </Section>
  );
}
