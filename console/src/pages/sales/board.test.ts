import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { OpportunitySchema, PipelineStageSchema } from "../../gen/crm/sales/v1/pipeline_pb";
import { findCard, openStages, withMoved, withPage, type Column } from "./board";

const stage = (code: string, extra = {}) => create(PipelineStageSchema, { code, name: code, ...extra });
const deal = (id: string, stageCode: string) => create(OpportunitySchema, { id, name: id, stageCode });
const board = (): Column[] => [
  { stage: stage("qualify"), cards: [deal("a", "qualify"), deal("b", "qualify")], next: "" },
  { stage: stage("proposal"), cards: [deal("c", "proposal")], next: "t1" },
];

describe("the pipeline board", () => {
  it("shows the open stages only, in order", () => {
    const stages = [stage("qualify"), stage("proposal"), stage("won", { isWon: true }), stage("lost", { isLost: true })];
    expect(openStages(stages).map((s) => s.code)).toEqual(["qualify", "proposal"]);
  });

  it("moves a card out of its old column and to the top of its new one", () => {
    const moved = withMoved(board(), deal("b", "proposal"));
    expect(moved.map((c) => c.cards.map((o) => o.id))).toEqual([["a"], ["b", "c"]]);
  });

  it("keeps the moved card as the service answered it", () => {
    const answered = create(OpportunitySchema, { id: "a", stageCode: "proposal", etag: "v2" });
    expect(findCard(withMoved(board(), answered), "a")?.etag).toBe("v2");
  });

  it("adds a page without repeating a card already shown", () => {
    const paged = withPage(board(), "proposal", [deal("c", "proposal"), deal("d", "proposal")], "");
    expect(paged[1].cards.map((o) => o.id)).toEqual(["c", "d"]);
    expect(paged[1].next).toBe("");
    expect(paged[0]).toEqual(board()[0]);
  });
});
