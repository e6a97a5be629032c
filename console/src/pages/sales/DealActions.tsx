// What a seller does to an open deal besides quoting: plan by when it should leave a stage, and
// close it as won or lost (with the reason, which the win-rate report groups by).
import { Button, Group, NativeSelect, SimpleGrid, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { pipeline } from "../../api/clients";
import { useAction } from "../../components/useAction";
import type { Opportunity, PipelineStage } from "../../gen/crm/sales/v1/pipeline_pb";
import { openStages } from "./board";
import { Section } from "../../components/Section";
import { Failure } from "../../components/Failure";

export function DealActions({ deal, stages, onChanged }: { deal: Opportunity; stages: PipelineStage[]; onChanged: () => void }) {
  const { t } = useTranslation();
  const open = openStages(stages);
  const [stageCode, setStageCode] = useState(deal.stageCode);
  const [day, setDay] = useState("");
  const [outcome, setOutcome] = useState("won");
  const [reason, setReason] = useState("");
  const [action, run] = useAction();

  const plan = async (event: FormEvent) => {
    event.preventDefault();
    const plans = [{ stageCode, plannedLeaveDate: day }];
    if (await run(() => pipeline.setStagePlan({ id: deal.id, etag: deal.etag, plans }))) onChanged();
  };
  const close = async (event: FormEvent) => {
    event.preventDefault();
    const won = outcome === "won";
    if (await run(() => pipeline.closeOpportunity({ id: deal.id, etag: deal.etag, won, lostReason: won ? "" : reason }))) onChanged();
  };

  return (
    <Section title={t("opportunity.work")}>
      <Failure action={action} />
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <form onSubmit={plan} aria-label={t("opportunity.plan")}>
          <Group align="end">
            <NativeSelect
              label={t("opportunity.stage")}
              value={stageCode}
              onChange={(e) => setStageCode(e.currentTarget.value)}
              data={open.map((s) => ({ value: s.code, label: s.name }))}
              error={action.fields["plans[0].stage_code"]}
            />
            <TextInput
              type="date"
              label={t("opportunity.planned")}
              value={day}
              onChange={(e) => setDay(e.currentTarget.value)}
              error={action.fields["plans[0].planned_leave_date"]}
            />
            <Button type="submit" variant="default" loading={action.busy}>
              {t("opportunity.plan")}
            </Button>
          </Group>
        </form>
        <form onSubmit={close} aria-label={t("opportunity.close")}>
          <Group align="end">
            <NativeSelect
              label={t("opportunity.outcome")}
              value={outcome}
              onChange={(e) => setOutcome(e.currentTarget.value)}
              data={[
                { value: "won", label: t("opportunity.status.2") },
                { value: "lost", label: t("opportunity.status.3") },
              ]}
            />
            {outcome === "lost" && (
              <TextInput
                label={t("opportunity.lostReason")}
                value={reason}
                onChange={(e) => setReason(e.currentTarget.value)}
                error={action.fields.lost_reason}
              />
            )}
            <Button type="submit" variant="default" loading={action.busy}>
              {t("opportunity.close")}
            </Button>
          </Group>
        </form>
      </SimpleGrid>
    </Section>
  );
}
