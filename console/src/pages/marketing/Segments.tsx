// The segment builder: conditions on RFM scores, purchase figures and profile fields, every one
// of which must hold, with the count of customers they select as they are typed; saved, a
// segment is a campaign's target.
import { ActionIcon, Button, Group, NativeSelect, Stack, Table, Text, TextInput } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { marketing } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Failure } from "../../components/Failure";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { Section } from "../../components/Section";
import { useAction } from "../../components/useAction";
import { count } from "../../format";
import { Operator, type Condition } from "../../gen/crm/marketing/v1/marketing_pb";
import { Listing } from "../../components/Listing";

const FIELDS = ["r", "f", "m", "order_count", "total_spend_minor", "recency_days", "industry", "region_code", "tag"];
const OPERATORS = [
  Operator.EQUALS,
  Operator.NOT_EQUALS,
  Operator.GREATER_THAN,
  Operator.GREATER_OR_EQUAL,
  Operator.LESS_THAN,
  Operator.LESS_OR_EQUAL,
  Operator.CONTAINS,
];

type Rule = Pick<Condition, "field" | "operator" | "value">;

export function Segments() {
  const { t } = useTranslation();
  const mayBuild = can(session.identity(), "marketing.act");
  const paging = usePaging();
  const [call, retry] = useCall(() => marketing.listSegments({ pageSize: 50, pageToken: paging.token }), [paging.token]);
  return (
    <Section title={t("segments.title")}>
      <Loaded call={call} retry={retry}>
        {(page) => (
          <Listing
            items={page.segments}
            row={(s) => (
              <Table.Tr key={s.id}>
                <Table.Td>{s.name}</Table.Td>
                <Table.Td>
                  {s.conditions.length > 0
                    ? s.conditions.map((c) => `${c.field} ${t(`segments.operators.${c.operator}`)} ${c.value}`).join(" · ")
                    : t("segments.list", { count: Number(s.listSize) })}
                </Table.Td>
              </Table.Tr>
            )}
            more={<More paging={paging} nextPageToken={page.nextPageToken} size="xs" />}
          />
        )}
      </Loaded>
      {mayBuild && <Builder onSaved={() => (paging.token ? paging.reset() : retry())} />}
    </Section>
  );
}

function Builder({ onSaved }: { onSaved: () => void }) {
  const { t, i18n } = useTranslation();
  const [name, setName] = useState("");
  const [rules, setRules] = useState<Rule[]>([{ field: "r", operator: Operator.GREATER_OR_EQUAL, value: "4" }]);
  const [action, run] = useAction();
  // The count follows the conditions once typing pauses.
  const [settled] = useDebouncedValue(rules, 400);
  const complete = settled.filter((r) => r.field && r.value.trim() !== "");
  const [preview] = useCall(() => marketing.previewSegment({ conditions: complete }), [JSON.stringify(complete)]);
  const change = (i: number, part: Partial<Rule>) => setRules((rs) => rs.map((r, j) => (j === i ? { ...r, ...part } : r)));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await run(() => marketing.createSegment({ segment: { name, conditions: rules } }))) {
      setName("");
      onSaved();
    }
  };

  return (
    <form onSubmit={submit} aria-label={t("segments.new")}>
      <Stack gap="xs" mt="md">
        <Text fw={600}>{t("segments.new")}</Text>
        {rules.map((rule, i) => (
          <Group key={i} align="end" wrap="nowrap">
            <NativeSelect
              label={t("segments.field")}
              value={rule.field}
              onChange={(e) => change(i, { field: e.currentTarget.value })}
              data={FIELDS.map((f) => ({ value: f, label: t(`segments.fields.${f}`) }))}
              error={action.fields[`segment.conditions[${i}].field`]}
            />
            <NativeSelect
              label={t("segments.operator")}
              value={String(rule.operator)}
              onChange={(e) => change(i, { operator: Number(e.currentTarget.value) })}
              data={OPERATORS.map((o) => ({ value: String(o), label: t(`segments.operators.${o}`) }))}
            />
            <TextInput
              label={t("segments.value")}
              value={rule.value}
              onChange={(e) => change(i, { value: e.currentTarget.value })}
              error={action.fields[`segment.conditions[${i}].value`]}
            />
            <ActionIcon
              variant="default"
              size="lg"
              aria-label={t("segments.remove", { n: i + 1 })}
              onClick={() => setRules((rs) => rs.filter((_, j) => j !== i))}
            >
              ×
            </ActionIcon>
          </Group>
        ))}
        <Group>
          <Button variant="default" size="xs" onClick={() => setRules((rs) => [...rs, { field: "f", operator: Operator.GREATER_OR_EQUAL, value: "" }])}>
            {t("segments.add")}
          </Button>
          <Text size="sm" role="status" aria-live="polite">
            {preview.state === "done"
              ? t("segments.matches", { count: Number(preview.value.count), shown: count(preview.value.count, i18n.language) })
              : preview.state === "failed"
                ? preview.message
                : t("state.loading")}
          </Text>
        </Group>
        <Group align="end">
          <TextInput label={t("segments.name")} value={name} onChange={(e) => setName(e.currentTarget.value)} error={action.fields["segment.name"]} />
          <Button type="submit" loading={action.busy}>
            {t("segments.save")}
          </Button>
        </Group>
        <Failure action={action} />
      </Stack>
    </form>
  );
}
