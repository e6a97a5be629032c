// Duplicates and merge: the groups of records that look like one customer (the same e-mail or
// phone, or closely similar names), strongest first. The steward keeps one record of a group;
// the others are merged into it and answer with it from then on.
import { Alert, Badge, Button, Card, Group, Radio, Stack, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { customers } from "../../api/clients";
import { useLocation } from "../../app/router";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { useAction } from "../../components/useAction";
import { dateTime, share } from "../../format";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { DuplicateGroup } from "../../gen/crm/customers/v1/customers_pb";
import { CustomersNav } from "./CustomersNav";
import { TableHead } from "../../components/TableParts";

/** Groups shown at once: the strongest. */
const GROUPS = 50;

export function Duplicates() {
  const { t } = useTranslation();
  const { query } = useLocation();
  const party = query.get("party") ?? "";
  const [call, retry] = useCall(() => customers.findDuplicates({ partyId: party, maxGroups: GROUPS }), [party]);
  const [merged, setMerged] = useState<string[]>([]);
  return (
    <Stack>
      <CustomersNav />
      <Title order={1}>{t("duplicates.title")}</Title>
      <Text>{t("duplicates.hint")}</Text>
      <div role="status" aria-live="polite">
        {merged.length > 0 && <Text>{t("duplicates.merged", { name: merged[merged.length - 1] })}</Text>}
      </div>
      <Loaded call={call} retry={retry}>
        {(found) => {
          const groups = found.groups.filter((g) => !g.parties.some((p) => merged.includes(p.id)));
          if (groups.length === 0) return <Text>{t("duplicates.none")}</Text>;
          return groups.map((g) => (
            <Candidate key={g.parties.map((p) => p.id).join()} group={g} onMerged={(name, ids) => setMerged((m) => [...m, ...ids, name])} />
          ));
        }}
      </Loaded>
    </Stack>
  );
}

function Candidate({ group, onMerged }: { group: DuplicateGroup; onMerged: (survivor: string, ids: string[]) => void }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  // The oldest record is kept unless the steward picks another: it is the one others refer to.
  const oldest = [...group.parties].sort((a, b) => Number((a.createTime?.seconds ?? 0n) - (b.createTime?.seconds ?? 0n)))[0];
  const [keep, setKeep] = useState(oldest?.id ?? "");
  const [state, run] = useAction();
  const title = group.parties.map((p) => p.displayName).join(" · ");

  const merge = async () => {
    const mergedIds = group.parties.map((p) => p.id).filter((id) => id !== keep);
    const survivor = group.parties.find((p) => p.id === keep);
    if (await run(() => customers.mergeParties({ survivorId: keep, mergedIds }))) {
      onMerged(survivor?.displayName ?? keep, group.parties.map((p) => p.id));
    }
  };

  return (
    <Card withBorder component="section" aria-label={title}>
      <Group justify="space-between" mb="xs">
        <Group gap="xs">
          {group.reasons.map((r) => (
            <Badge key={r} variant="light">
              {t(`duplicates.reasons.${r}`)}
            </Badge>
          ))}
        </Group>
        <Text size="sm">{t("duplicates.score", { score: share(Math.round(group.score * 10000), locale) })}</Text>
      </Group>
      <Radio.Group value={keep} onChange={setKeep} label={t("duplicates.keep")}>
        <Table>
          <TableHead heads={[t("duplicates.kept"), t("customers.name"), t("customers.contact"), t("duplicates.created")]} />
          <Table.Tbody>
            {group.parties.map((p) => (
              <Table.Tr key={p.id}>
                <Table.Td>
                  <Radio value={p.id} aria-label={t("duplicates.keepThis", { name: p.displayName })} />
                </Table.Td>
                <Table.Td>
                  <Link to={`/customers/${encodeURIComponent(p.id)}`}>{p.displayName}</Link>
                </Table.Td>
                <Table.Td>{p.contactPoints.map((c) => c.value).join(", ")}</Table.Td>
                <Table.Td>{p.createTime ? dateTime(timestampDate(p.createTime), locale) : ""}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Radio.Group>
      {state.failure && (
        <Alert color="red" role="alert" mt="xs">
          {state.failure}
        </Alert>
      )}
      <Group mt="xs">
        <Button onClick={() => void merge()} loading={state.busy}>
          {t("duplicates.merge", { count: group.parties.length - 1 })}
        </Button>
      </Group>
    </Card>
  );
}
