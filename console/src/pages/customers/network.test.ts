import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  GroupTreeNodeSchema,
  NeighbourSchema,
  PartySchema,
  PathStepSchema,
  RelationshipSchema,
} from "../../gen/crm/customers/v1/customers_pb";
import { graphOf, treeOf } from "./network";

const party = (id: string) => create(PartySchema, { id, displayName: `Party ${id}` });
const edge = (id: string, from: string, to: string) => create(RelationshipSchema, { id, fromPartyId: from, toPartyId: to });
const reached = (id: string, hops: number, via: ReturnType<typeof edge>) => create(NeighbourSchema, { party: party(id), hops, via });

describe("graphOf", () => {
  it("draws the start, each party reached once, and the edges between drawn parties", () => {
    const { nodes, edges } = graphOf(party("a"), [
      reached("b", 1, edge("ab", "a", "b")),
      reached("c", 2, edge("bc", "b", "c")),
      // Reached again by another edge: one node, and the second edge only once drawn.
      reached("c", 2, edge("bc", "b", "c")),
    ]);
    expect(nodes.map((n) => [n.id, n.hops, n.via])).toEqual([["a", 0, undefined], ["b", 1, "ab"], ["c", 2, "bc"]]);
    expect(edges.map((e) => [e.source, e.target])).toEqual([["a", "b"], ["b", "c"]]);
    expect(nodes.some((n) => n.onPath)).toBe(false);
  });

  it("picks out a path and brings in its parties beyond the hops shown", () => {
    const path = [
      create(PathStepSchema, { relationship: edge("ab", "a", "b"), party: party("b") }),
      create(PathStepSchema, { relationship: edge("xb", "x", "b"), party: party("x") }),
    ];
    const { nodes, edges } = graphOf(party("a"), [reached("b", 1, edge("ab", "a", "b"))], path);
    expect(nodes.find((n) => n.id === "x")).toMatchObject({ hops: 2, onPath: true, via: "xb" });
    expect(edges.filter((e) => e.onPath).map((e) => e.id)).toEqual(["ab", "xb"]);
  });
});

describe("treeOf", () => {
  it("nests each member under its parent", () => {
    const node = (id: string, parentId = "") => create(GroupTreeNodeSchema, { party: party(id), parentId });
    const root = treeOf([node("top"), node("sub", "top"), node("dept", "sub"), node("sub2", "top")]);
    expect(root?.name).toBe("top");
    expect(root?.children.map((c) => c.name)).toEqual(["sub", "sub2"]);
    expect(root?.children[0].children[0].label).toBe("Party dept");
  });

  it("has no tree without members", () => {
    expect(treeOf([])).toBeNull();
  });
});
