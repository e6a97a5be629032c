// Editing a party: the form's draft of the editable fields, and what an update sends: only the
// fields changed (the update mask), so a save never overwrites what someone else changed in
// another field meanwhile.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Party, PartySchema } from "../../gen/crm/customers/v1/customers_pb";

/** The fields of a party an update carries. */
export type PartyFields = MessageInitShape<typeof PartySchema>;

/** A contact point as the form edits it. */
export interface ContactDraft {
  kind: number;
  value: string;
  label: string;
  primary: boolean;
}

/** The editable fields as the form holds them. */
export interface PartyDraft {
  givenName: string;
  familyName: string;
  organizationName: string;
  industry: string;
  regionCode: string;
  /** Comma-separated. */
  tags: string;
  lifecycleStage: number;
  birthDate: string;
  ownerId: string;
  contactPoints: ContactDraft[];
}

/** The form's starting draft. */
export function draftOf(party: Party): PartyDraft {
  return {
    givenName: party.givenName,
    familyName: party.familyName,
    organizationName: party.organizationName,
    industry: party.industry,
    regionCode: party.regionCode,
    tags: party.tags.join(", "),
    lifecycleStage: party.lifecycleStage,
    birthDate: party.birthDate,
    ownerId: party.ownerId,
    contactPoints: party.contactPoints.map(({ kind, value, label, primary }) => ({ kind, value, label, primary })),
  };
}

const tagsOf = (text: string) =>
  text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);

/** What saving `draft` over `before` sends: the changed fields and their mask paths. */
export function changes(before: Party, draft: PartyDraft): { fields: PartyFields; paths: string[] } {
  const was = draftOf(before);
  const fields: PartyFields = {};
  const paths: string[] = [];
  const scalar = [
    ["givenName", "given_name"],
    ["familyName", "family_name"],
    ["organizationName", "organization_name"],
    ["industry", "industry"],
    ["regionCode", "region_code"],
    ["lifecycleStage", "lifecycle_stage"],
    ["birthDate", "birth_date"],
    ["ownerId", "owner_id"],
  ] as const;
  for (const [key, path] of scalar) {
    if (draft[key] !== was[key]) {
      (fields as Record<string, unknown>)[key] = draft[key];
      paths.push(path);
    }
  }
  const tags = tagsOf(draft.tags);
  if (JSON.stringify(tags) !== JSON.stringify(before.tags)) {
    fields.tags = tags;
    paths.push("tags");
  }
  if (JSON.stringify(draft.contactPoints) !== JSON.stringify(was.contactPoints)) {
    fields.contactPoints = draft.contactPoints.map((c) => ({ ...c }));
    paths.push("contact_points");
  }
  return { fields, paths };
}
