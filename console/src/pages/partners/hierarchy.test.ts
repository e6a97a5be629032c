import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { PartnerSchema, PartnerTreeNodeSchema } from "../../gen/crm/partners/v1/partners_pb";
import { forest } from "./hierarchy";

const node = (id: string, parentId = "", depth = 0) => create(PartnerTreeNodeSchema, { partner: create(PartnerSchema, { id, name: id, parentId }), depth });

describe("forest", () => {
  it("hangs each partner under its parent, in the service's order", () => {
    const roots = forest([node("md"), node("d1", "md", 1), node("dealer", "d1", 2), node("d2", "md", 1), node("other")]);
    expect(roots.map((r) => r.node.partner?.id)).toEqual(["md", "other"]);
    expect(roots[0].children.map((c) => c.node.partner?.id)).toEqual(["d1", "d2"]);
    expect(roots[0].children[0].children[0].node.partner?.id).toBe("dealer");
  });

  it("makes a partner whose parent the reader cannot see a top of its own", () => {
    const roots = forest([node("own", "hidden-parent", 1), node("below", "own", 2)]);
    expect(roots.map((r) => r.node.partner?.id)).toEqual(["own"]);
    expect(roots[0].children).toHaveLength(1);
  });
});
