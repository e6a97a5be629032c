// An opportunity's stages, planned against actual: when it entered each stage, when it was
// planned to leave it and when it did, and how late it was.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { StageHistoryEntry } from "../../gen/crm/sales/v1/pipeline_pb";

/** One visit of a stage as the console shows it. */
export interface StageVisit {
  stageCode: string;
  entered?: Date;
  left?: Date;
  /** The day (YYYY-MM-DD) it was planned to leave by, when planned. */
  planned?: string;
  /** Whole days past the planned day it left (or, still in it, has stayed); 0 when on time. */
  daysLate: number;
}

const DAY = 24 * 3600 * 1000;

/** Days `moment` is past the end of `planned` (a UTC day), or 0. */
export function daysPast(planned: string, moment: Date): number {
  const end = Date.parse(`${planned}T00:00:00Z`) + DAY;
  if (Number.isNaN(end) || moment.getTime() < end) return 0;
  return Math.floor((moment.getTime() - end) / DAY) + 1;
}

/** The stage history (oldest first) as visits, judged at `now`. */
export function stageVisits(history: StageHistoryEntry[], now: Date): StageVisit[] {
  return history.map((entry) => {
    const left = entry.leaveTime ? timestampDate(entry.leaveTime) : undefined;
    const planned = entry.plannedLeaveDate || undefined;
    return {
      stageCode: entry.stageCode,
      entered: entry.enterTime ? timestampDate(entry.enterTime) : undefined,
      left,
      planned,
      daysLate: planned ? daysPast(planned, left ?? now) : 0,
    };
  });
}

/** How late the opportunity is in its current stage (0 when on time or unplanned). */
export function currentDaysLate(history: StageHistoryEntry[], now: Date): number {
  const visits = stageVisits(history, now);
  const current = visits[visits.length - 1];
  return current && !current.left ? current.daysLate : 0;
}
