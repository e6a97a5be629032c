// Editing a customer: names, contact points, profile fields and lifecycle. Only what changed is
// sent, with the version the form was filled from, so a record someone else changed meanwhile is
// refused (and said so) rather than overwritten; each field the service finds wrong is marked
// with its reason.
import { ActionIcon, Button, Checkbox, Group, NativeSelect, Stack, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { customers } from "../../api/clients";
import { navigate } from "../../app/router";
import { Failure } from "../../components/Failure";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { Section } from "../../components/Section";
import { useAction } from "../../components/useAction";
import { PartyKind, type Party } from "../../gen/crm/customers/v1/customers_pb";
import { changes, draftOf, type PartyDraft } from "./edit";

const KINDS = [1, 2, 3];
const STAGES = [1, 2, 3, 4, 5];

export function EditParty({ id }: { id: string }) {
  const { t } = useTranslation();
  const [call, retry] = useCall(async () => (await customers.getParty({ id })).party!, [id]);
  return (
    <Stack>
      <Link to={`/customers/${encodeURIComponent(id)}`}>{t("edit.back")}</Link>
      <Loaded call={call} retry={retry}>
        {(party) => <Form key={party.etag} party={party} />}
      </Loaded>
    </Stack>
  );
}

function Form({ party }: { party: Party }) {
  const { t } = useTranslation();
  const [draft, setDraft] = useState<PartyDraft>(() => draftOf(party));
  const [action, run] = useAction();
  const [unchanged, setUnchanged] = useState(false);
  const set = (part: Partial<PartyDraft>) => setDraft((d) => ({ ...d, ...part }));
  const setContact = (i: number, part: Partial<PartyDraft["contactPoints"][number]>) =>
    set({ contactPoints: draft.contactPoints.map((c, j) => (j === i ? { ...c, ...part } : c)) });
  const error = (path: string) => action.fields[`party.${path}`];
  const person = party.kind !== PartyKind.ORGANIZATION;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { fields, paths } = changes(party, draft);
    setUnchanged(paths.length === 0);
    if (paths.length === 0) return;
    const ok = await run(() =>
      customers.updateParty({ party: { ...fields, id: party.id, etag: party.etag }, updateMask: { paths } }),
    );
    if (ok) navigate(`/customers/${encodeURIComponent(party.id)}`);
  };

  return (
    <form onSubmit={submit} aria-label={t("edit.title", { name: party.displayName })}>
      <Stack maw={820}>
        <Title order={1}>{t("edit.title", { name: party.displayName })}</Title>
        <Section title={t("edit.identity")}>
          {person ? (
            <Group grow align="start">
              <TextInput label={t("edit.givenName")} value={draft.givenName} onChange={(e) => set({ givenName: e.currentTarget.value })} error={error("given_name")} />
              <TextInput label={t("edit.familyName")} value={draft.familyName} onChange={(e) => set({ familyName: e.currentTarget.value })} error={error("family_name")} />
              <TextInput type="date" label={t("edit.birthDate")} value={draft.birthDate} onChange={(e) => set({ birthDate: e.currentTarget.value })} error={error("birth_date")} />
            </Group>
          ) : (
            <TextInput label={t("edit.organizationName")} value={draft.organizationName} onChange={(e) => set({ organizationName: e.currentTarget.value })} error={error("organization_name")} />
          )}
        </Section>
        <Section title={t("c360.contactPoints")}>
          <Stack gap="xs">
            {draft.contactPoints.map((c, i) => (
              <Group key={i} align="end" wrap="nowrap">
                <NativeSelect
                  label={t("edit.kind")}
                  value={String(c.kind)}
                  onChange={(e) => setContact(i, { kind: Number(e.currentTarget.value) })}
                  data={KINDS.map((k) => ({ value: String(k), label: t(`edit.kinds.${k}`) }))}
                  error={error(`contact_points[${i}].kind`)}
                />
                <TextInput
                  label={t("edit.value")}
                  value={c.value}
                  onChange={(e) => setContact(i, { value: e.currentTarget.value })}
                  error={error(`contact_points[${i}].value`)}
                  style={{ flex: 1 }}
                />
                <TextInput label={t("edit.label")} value={c.label} onChange={(e) => setContact(i, { label: e.currentTarget.value })} w={120} />
                <Checkbox label={t("edit.primary")} checked={c.primary} onChange={(e) => setContact(i, { primary: e.currentTarget.checked })} mb={8} />
                <ActionIcon
                  variant="default"
                  size="lg"
                  aria-label={t("edit.removeContact", { value: c.value || i + 1 })}
                  onClick={() => set({ contactPoints: draft.contactPoints.filter((_, j) => j !== i) })}
                >
                  ×
                </ActionIcon>
              </Group>
            ))}
            {error("contact_points") && (
              <Text c="red.9" size="sm">
                {error("contact_points")}
              </Text>
            )}
            <Group>
              <Button
                variant="default"
                size="xs"
                onClick={() => set({ contactPoints: [...draft.contactPoints, { kind: 1, value: "", label: "", primary: false }] })}
              >
                {t("edit.addContact")}
              </Button>
            </Group>
          </Stack>
        </Section>
        <Section title={t("edit.profile")}>
          <Group grow align="start">
            <NativeSelect
              label={t("customers.stage")}
              value={String(draft.lifecycleStage)}
              onChange={(e) => set({ lifecycleStage: Number(e.currentTarget.value) })}
              data={[{ value: "0", label: "—" }, ...STAGES.map((s) => ({ value: String(s), label: t(`stages.${s}`) }))]}
              error={error("lifecycle_stage")}
            />
            <TextInput label={t("edit.industry")} value={draft.industry} onChange={(e) => set({ industry: e.currentTarget.value })} error={error("industry")} />
            <TextInput label={t("edit.region")} value={draft.regionCode} onChange={(e) => set({ regionCode: e.currentTarget.value })} error={error("region_code")} />
          </Group>
          <Group grow align="start" mt="xs">
            <TextInput label={t("edit.tags")} description={t("edit.tagsHint")} value={draft.tags} onChange={(e) => set({ tags: e.currentTarget.value })} error={error("tags")} />
            <TextInput label={t("edit.owner")} value={draft.ownerId} onChange={(e) => set({ ownerId: e.currentTarget.value })} error={error("owner_id")} />
          </Group>
        </Section>
        <Failure action={action} />
        {unchanged && <Text role="status">{t("edit.nothing")}</Text>}
        <Group>
          <Button type="submit" loading={action.busy}>
            {t("edit.save")}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
