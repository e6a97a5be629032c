// Customers as a CSV file with the columns `crm import parties` reads, so an export can be
// edited and imported again (the suite's id as the external id). The lifecycle stage and tier,
// which the suite derives, come last; the importer ignores them.
import { field } from "../../files";
import { ContactPointKind, LifecycleStage, PartyKind, type Party } from "../../gen/crm/customers/v1/customers_pb";

/** The file's columns, in order. */
export const COLUMNS = [
  "external_id",
  "kind",
  "given_name",
  "family_name",
  "organization_name",
  "email",
  "phone",
  "address",
  "industry",
  "region_code",
  "birth_date",
  "tags",
  "owner_id",
  "team_id",
  "lifecycle_stage",
  "tier",
] as const;

function first(p: Party, kind: ContactPointKind): string {
  const points = p.contactPoints.filter((c) => c.kind === kind);
  return (points.find((c) => c.primary) ?? points[0])?.value ?? "";
}

const KINDS: Record<PartyKind, string> = { [PartyKind.UNSPECIFIED]: "", [PartyKind.PERSON]: "person", [PartyKind.ORGANIZATION]: "organization" };

/** One party as a CSV line (without its line break). */
export function partyLine(p: Party): string {
  const values: Record<(typeof COLUMNS)[number], string> = {
    external_id: p.id,
    kind: KINDS[p.kind] ?? "",
    given_name: p.givenName,
    family_name: p.familyName,
    organization_name: p.organizationName,
    email: first(p, ContactPointKind.EMAIL),
    phone: first(p, ContactPointKind.PHONE),
    address: first(p, ContactPointKind.ADDRESS),
    industry: p.industry,
    region_code: p.regionCode,
    birth_date: p.birthDate,
    tags: p.tags.join(";"),
    owner_id: p.ownerId,
    team_id: p.teamId,
    lifecycle_stage: p.lifecycleStage ? LifecycleStage[p.lifecycleStage].toLowerCase() : "",
    tier: p.value?.tier ?? "",
  };
  return COLUMNS.map((c) => field(values[c])).join(",");
}

/** The head line. */
export function headLine(): string {
  return COLUMNS.join(",");
}
