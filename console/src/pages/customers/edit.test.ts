import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { PartySchema } from "../../gen/crm/customers/v1/customers_pb";
import { changes, draftOf } from "./edit";

const party = () =>
  create(PartySchema, {
    id: "p1",
    givenName: "Mei",
    familyName: "Lin",
    tags: ["vip"],
    contactPoints: [{ id: "c1", kind: 1, value: "mei@example.com", label: "work", primary: true, normalized: "mei@example.com" }],
  });

describe("saving an edited party", () => {
  it("sends nothing when nothing changed", () => {
    expect(changes(party(), draftOf(party())).paths).toEqual([]);
  });

  it("sends only the fields changed, with their mask paths", () => {
    const draft = { ...draftOf(party()), familyName: "Lim", tags: " vip , gold ,," };
    const { fields, paths } = changes(party(), draft);
    expect(paths).toEqual(["family_name", "tags"]);
    expect(fields).toEqual({ familyName: "Lim", tags: ["vip", "gold"] });
  });

  it("sends the contact points whole when any changed", () => {
    const draft = draftOf(party());
    draft.contactPoints = [...draft.contactPoints, { kind: 2, value: "+886912345678", label: "", primary: true }];
    const { fields, paths } = changes(party(), draft);
    expect(paths).toEqual(["contact_points"]);
    expect(fields.contactPoints?.map((c) => c.value)).toEqual(["mei@example.com", "+886912345678"]);
  });
});
