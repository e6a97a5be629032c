import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { StageHistoryEntrySchema } from "../../gen/crm/sales/v1/pipeline_pb";
import { currentDaysLate, daysPast, stageVisits } from "./stages";

const at = (iso: string) => new Date(iso);
const visit = (stageCode: string, enter: string, leave?: string, planned = "") =>
  create(StageHistoryEntrySchema, {
    stageCode,
    enterTime: timestampFromDate(at(enter)),
    leaveTime: leave ? timestampFromDate(at(leave)) : undefined,
    plannedLeaveDate: planned,
  });

describe("a stage planned against actual", () => {
  it("is on time through the whole planned day", () => {
    expect(daysPast("2026-12-01", at("2026-12-01T23:59:59Z"))).toBe(0);
    expect(daysPast("2026-12-01", at("2026-12-02T00:00:00Z"))).toBe(1);
    expect(daysPast("2026-12-01", at("2026-12-04T12:00:00Z"))).toBe(3);
  });

  it("judges a stage left by when it was left, and the current one by now", () => {
    const now = at("2026-12-10T12:00:00Z");
    const visits = stageVisits(
      [
        visit("qualify", "2026-11-01T09:00:00Z", "2026-11-05T09:00:00Z", "2026-11-03"),
        visit("proposal", "2026-11-05T09:00:00Z", undefined, "2026-12-08"),
      ],
      now,
    );
    expect(visits.map((v) => v.daysLate)).toEqual([2, 2]);
    expect(visits[1].left).toBeUndefined();
  });

  it("is never late without a plan", () => {
    const history = [visit("qualify", "2026-01-01T00:00:00Z")];
    expect(currentDaysLate(history, at("2027-01-01T00:00:00Z"))).toBe(0);
  });

  it("counts only the stage the deal is in as its current lateness", () => {
    const history = [visit("qualify", "2026-11-01T09:00:00Z", "2026-11-20T09:00:00Z", "2026-11-03")];
    expect(currentDaysLate(history, at("2026-12-01T00:00:00Z"))).toBe(0);
  });
});
