// The calls, meetings, visits and e-mails logged on an opportunity, newest first, and logging
// another.
import { Button, Group, NativeSelect, Stack, Table, Text, TextInput } from "@mantine/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { pipeline } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { useAction } from "../../components/useAction";
import { dateTime } from "../../format";
import { ActivityKind } from "../../gen/crm/sales/v1/pipeline_pb";
import { Section } from "../../components/Section";
import { Failure } from "../../components/Failure";
import { Listing } from "../../components/Listing";

const PAGE = 25;
const KINDS = [ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.VISIT, ActivityKind.EMAIL];

export function Activities({ opportunityId, partyId }: { opportunityId: string; partyId: string }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const mayLog = can(session.identity(), "sales.sell");
  const paging = usePaging();
  const pageToken = paging.token;
  const [call, retry] = useCall(
    () => pipeline.listActivities({ opportunityId, pageSize: PAGE, pageToken }),
    [opportunityId, pageToken],
  );
  return (
    <Section title={t("activities.title")}>
      <Loaded call={call} retry={retry}>
        {(page) => (
          <Listing
            items={page.activities}
            row={(a) => (
              <Table.Tr key={a.id}>
                <Table.Td>{a.occurTime ? dateTime(timestampDate(a.occurTime), locale) : ""}</Table.Td>
                <Table.Td>{t(`activities.kinds.${a.kind}`)}</Table.Td>
                <Table.Td>
                  <Text fw={600}>{a.subject}</Text>
                  {a.notes && <Text size="sm">{a.notes}</Text>}
                </Table.Td>
                <Table.Td>{a.ownerId}</Table.Td>
              </Table.Tr>
            )}
            more={<More paging={paging} nextPageToken={page.nextPageToken} size="xs" />}
          />
        )}
      </Loaded>
      {mayLog && (
        <LogActivity
          opportunityId={opportunityId}
          partyId={partyId}
          onLogged={() => (pageToken ? paging.reset() : retry())}
        />
      )}
    </Section>
  );
}

function LogActivity(props: { opportunityId: string; partyId: string; onLogged: () => void }) {
  const { t } = useTranslation();
  const [kind, setKind] = useState(String(ActivityKind.CALL));
  const [subject, setSubject] = useState("");
  const [notes, setNotes] = useState("");
  const [action, run] = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await run(() =>
      pipeline.logActivity({
        activity: { kind: Number(kind), subject, notes, opportunityId: props.opportunityId, partyId: props.partyId },
      }),
    );
    if (ok) {
      setSubject("");
      setNotes("");
      props.onLogged();
    }
  };
  return (
    <form onSubmit={submit} aria-label={t("activities.log")}>
      <Stack gap="xs" mt="md">
        <Group align="end">
          <NativeSelect
            label={t("activities.kind")}
            value={kind}
            onChange={(e) => setKind(e.currentTarget.value)}
            data={KINDS.map((k) => ({ value: String(k), label: t(`activities.kinds.${k}`) }))}
          />
          <TextInput
            label={t("activities.subject")}
            value={subject}
            onChange={(e) => setSubject(e.currentTarget.value)}
            error={action.fields["activity.subject"]}
            style={{ flex: 1 }}
          />
        </Group>
        <TextInput label={t("activities.notes")} value={notes} onChange={(e) => setNotes(e.currentTarget.value)} />
        <Group>
          <Button type="submit" loading={action.busy}>
            {t("activities.log")}
          </Button>
        </Group>
        <Failure action={action} />
      </Stack>
    </form>
  );
}
