// An opportunity: where it stands, its stages planned against actual, its quotes and the
// activities logged on it. Each part loads and fails on its own.
import { Badge, Group, Stack, Table, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { pipeline } from "../../api/clients";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { calendarDay, dateTime, money, share } from "../../format";
import { OpportunityStatus, type Opportunity as Deal, type PipelineStage } from "../../gen/crm/sales/v1/pipeline_pb";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Activities } from "./Activities";
import { DealActions } from "./DealActions";
import { Quotes } from "./Quotes";
import { stageVisits } from "./stages";
import { Section } from "../../components/Section";
import { TableHead } from "../../components/TableParts";

export function Opportunity({ id }: { id: string }) {
  const { t } = useTranslation();
  const mayWork = can(session.identity(), "sales.sell");
  const [call, retry] = useCall(async () => {
    const [found, stages] = await Promise.all([pipeline.getOpportunity({ id }), pipeline.getPipeline({})]);
    return { deal: found.opportunity!, stages: stages.stages };
  }, [id]);
  return (
    <Stack>
      <Link to="/pipeline">{t("opportunity.back")}</Link>
      <Loaded call={call} retry={retry}>
        {({ deal, stages }) => (
          <>
            <Summary deal={deal} stages={stages} />
            {mayWork && deal.status === OpportunityStatus.OPEN && <DealActions deal={deal} stages={stages} onChanged={retry} />}
            <Quotes deal={deal} onAccepted={retry} />
            <Activities opportunityId={deal.id} partyId={deal.partyId} />
          </>
        )}
      </Loaded>
    </Stack>
  );
}

function Summary({ deal, stages }: { deal: Deal; stages: PipelineStage[] }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const stageName = (code: string) => stages.find((s) => s.code === code)?.name ?? code;
  const visits = stageVisits(deal.stageHistory, new Date());
  return (
    <>
      <Title order={1}>
        {deal.name}{" "}
        <Badge size="lg" {...statusLook(deal.status)}>
          {t(`opportunity.status.${deal.status}`)}
        </Badge>
      </Title>
      <Group gap="xl">
        <Text>
          {t("opportunity.stage")}: <strong>{stageName(deal.stageCode)}</strong> ({share(deal.winProbabilityBps, locale)})
        </Text>
        {deal.amount && <Text>{money(deal.amount.amountMinor, deal.amount.currencyCode, locale)}</Text>}
        {deal.expectedCloseDate && (
          <Text>{t("pipeline.closes", { day: calendarDay(deal.expectedCloseDate, locale) })}</Text>
        )}
        <Link to={`/customers/${encodeURIComponent(deal.partyId)}`}>{t("opportunity.customer")}</Link>
      </Group>
      {deal.nextStep && (
        <Text>
          {t("opportunity.nextStep")}: {deal.nextStep}
        </Text>
      )}
      <Section title={t("opportunity.stages")}>
        <Table>
          <TableHead heads={[t("opportunity.stage"), t("opportunity.entered"), t("opportunity.planned"), t("opportunity.left"), t("opportunity.againstPlan")]} />
          <Table.Tbody>
            {visits.map((v, i) => (
              <Table.Tr key={i}>
                <Table.Td>{stageName(v.stageCode)}</Table.Td>
                <Table.Td>{dateTime(v.entered, locale)}</Table.Td>
                <Table.Td>{v.planned ? calendarDay(v.planned, locale) : "—"}</Table.Td>
                <Table.Td>{v.left ? dateTime(v.left, locale) : t("opportunity.current")}</Table.Td>
                <Table.Td>
                  {!v.planned ? (
                    "—"
                  ) : v.daysLate > 0 ? (
                    <Badge color="yellow.4" autoContrast>
                      {t("pipeline.late", { count: v.daysLate })}
                    </Badge>
                  ) : (
                    t("opportunity.onTime")
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Section>
    </>
  );
}

/** A closed deal's badge in a solid colour (dark enough for white text), an open one's light. */
function statusLook(status: OpportunityStatus): { color?: string; variant?: string } {
  if (status === OpportunityStatus.WON) return { color: "teal.9" };
  if (status === OpportunityStatus.LOST) return { color: "red.9" };
  return { variant: "light" };
}
