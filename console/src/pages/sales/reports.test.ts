import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { GetOrganizationResponseSchema, QuotaOwnerKind, QuotaSchema } from "../../gen/crm/sales/v1/org_pb";
import { PipelineStageSchema } from "../../gen/crm/sales/v1/pipeline_pb";
import { FunnelStageSchema, QuotaAttainmentSchema } from "../../gen/crm/sales/v1/reports_pb";
import { behindPace, funnelSteps, ownerName } from "./reports";

describe("funnelSteps", () => {
  const stages = [
    create(PipelineStageSchema, { code: "qualify", name: "Qualify" }),
    create(PipelineStageSchema, { code: "proposal", name: "Proposal" }),
    create(PipelineStageSchema, { code: "won", name: "Won", isWon: true }),
    create(PipelineStageSchema, { code: "lost", name: "Lost", isLost: true }),
  ];
  it("steps through the open stages by reach, ends at the deals won and leaves out lost", () => {
    const rows = [
      create(FunnelStageSchema, { stageCode: "qualify", reached: 10n, count: 4n, conversionToNextBps: 6000 }),
      create(FunnelStageSchema, { stageCode: "proposal", reached: 6n, count: 2n, conversionToNextBps: 5000 }),
      create(FunnelStageSchema, { stageCode: "won", reached: 7n, count: 3n }),
      create(FunnelStageSchema, { stageCode: "lost", reached: 1n, count: 1n }),
    ];
    expect(funnelSteps(rows, stages)).toEqual([
      { code: "qualify", name: "Qualify", reached: 10, conversionBps: 6000 },
      { code: "proposal", name: "Proposal", reached: 6, conversionBps: 5000 },
      { code: "won", name: "Won", reached: 3, conversionBps: 0 },
    ]);
  });
});

describe("ownerName", () => {
  const org = create(GetOrganizationResponseSchema, {
    departments: [{ id: "d1", name: "EMEA" }],
    teams: [{ id: "t1", name: "Enterprise", departmentId: "d1" }],
    reps: [{ userId: "u1", displayName: "Ana", teamId: "t1" }],
  });
  it("names each kind of owner from the organisation, or falls back to the id", () => {
    expect(ownerName(QuotaOwnerKind.REP, "u1", org)).toBe("Ana");
    expect(ownerName(QuotaOwnerKind.TEAM, "t1", org)).toBe("Enterprise");
    expect(ownerName(QuotaOwnerKind.DEPARTMENT, "d1", org)).toBe("EMEA");
    expect(ownerName(QuotaOwnerKind.REP, "gone", org)).toBe("gone");
    expect(ownerName(QuotaOwnerKind.TEAM, "t1")).toBe("t1");
  });
});

describe("behindPace", () => {
  it("is behind when attained less than the period's elapsed share", () => {
    const row = (attainmentBps: number, expectedBps: number) =>
      create(QuotaAttainmentSchema, { quota: create(QuotaSchema, {}), attainmentBps, expectedBps });
    expect(behindPace(row(4000, 5000))).toBe(true);
    expect(behindPace(row(5000, 5000))).toBe(false);
  });
});
