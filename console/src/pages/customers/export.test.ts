import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ContactPointKind, LifecycleStage, PartyKind, PartySchema } from "../../gen/crm/customers/v1/customers_pb";
import { COLUMNS, headLine, partyLine } from "./export";

describe("the customers' CSV", () => {
  it("writes a party in the import's columns, the primary contact point of each kind", () => {
    const party = create(PartySchema, {
      id: "p-1",
      kind: PartyKind.PERSON,
      givenName: "Mei",
      familyName: "Lin",
      contactPoints: [
        { kind: ContactPointKind.EMAIL, value: "old@example.com" },
        { kind: ContactPointKind.EMAIL, value: "mei@example.com", primary: true },
        { kind: ContactPointKind.PHONE, value: "+886912345678" },
      ],
      tags: ["vip", "north"],
      lifecycleStage: LifecycleStage.LOYAL,
      value: { tier: "gold" },
    });
    const line = partyLine(party).split(",");
    const at = (c: (typeof COLUMNS)[number]) => line[COLUMNS.indexOf(c)];
    expect(line).toHaveLength(COLUMNS.length);
    expect([at("external_id"), at("kind"), at("given_name"), at("email"), at("phone")]).toEqual(["p-1", "person", "Mei", "mei@example.com", "+886912345678"]);
    expect([at("tags"), at("lifecycle_stage"), at("tier")]).toEqual(["vip;north", "loyal", "gold"]);
    expect(headLine().split(",")).toEqual([...COLUMNS]);
  });
});
