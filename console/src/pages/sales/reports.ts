// The figures of the sales reports, ready to draw: the funnel's steps and quota owners by name.
import type { FunnelStage, QuotaAttainment } from "../../gen/crm/sales/v1/reports_pb";
import type { PipelineStage } from "../../gen/crm/sales/v1/pipeline_pb";
import { QuotaOwnerKind, type GetOrganizationResponse } from "../../gen/crm/sales/v1/org_pb";

/** A step of the funnel as drawn: a stage and how many deals ever reached it. */
export interface FunnelStep {
  code: string;
  name: string;
  reached: number;
  /** Reach of the next step over this one's, in basis points (none for the last). */
  conversionBps: number;
}

/** The funnel's steps: the open stages in order, then won. A lost deal leaves the funnel, so
 * the lost stage is not a step of it. */
export function funnelSteps(rows: FunnelStage[], stages: PipelineStage[]): FunnelStep[] {
  const byCode = new Map(stages.map((s) => [s.code, s]));
  return rows
    .filter((r) => !byCode.get(r.stageCode)?.isLost)
    .map((r) => {
      const stage = byCode.get(r.stageCode);
      // The won stage's reach is the deals won now: that is what the last open stage converts to.
      const reached = stage?.isWon ? Number(r.count) : Number(r.reached);
      return { code: r.stageCode, name: stage?.name || r.stageCode, reached, conversionBps: r.conversionToNextBps };
    });
}

/** A quota owner's name in the organisation: the rep's, team's or department's, else its id. */
export function ownerName(kind: QuotaOwnerKind, id: string, org?: GetOrganizationResponse): string {
  if (!org) return id;
  switch (kind) {
    case QuotaOwnerKind.REP:
      return org.reps.find((r) => r.userId === id)?.displayName || id;
    case QuotaOwnerKind.TEAM:
      return org.teams.find((t) => t.id === id)?.name || id;
    case QuotaOwnerKind.DEPARTMENT:
      return org.departments.find((d) => d.id === id)?.name || id;
    default:
      return id;
  }
}

/** Whether a quota is behind the pace a steady period would have reached by now. */
export function behindPace(row: QuotaAttainment): boolean {
  return row.attainmentBps < row.expectedBps;
}
