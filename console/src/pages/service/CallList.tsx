// Working through a call list: each customer to call with why and the number to dial, a page at
// a time, the ones still to call first on request; the outcome and a note recorded per call.
import { Badge, Button, Checkbox, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { servicedesk } from "../../api/clients";
import { Failure } from "../../components/Failure";
import { Link } from "../../components/Link";
import { Listing } from "../../components/Listing";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { useAction } from "../../components/useAction";
import { count } from "../../format";
import { CallOutcome, type CallListEntry } from "../../gen/crm/servicedesk/v1/servicedesk_pb";
import { ListProgress } from "./CallLists";

const PAGE = 50;
const OUTCOMES = [CallOutcome.REACHED, CallOutcome.NO_ANSWER, CallOutcome.CALL_BACK, CallOutcome.WRONG_NUMBER, CallOutcome.DECLINED];

export function CallList({ id }: { id: string }) {
  const { t, i18n } = useTranslation();
  const [uncalled, setUncalled] = useState(false);
  const paging = usePaging();
  const [call, retry] = useCall(
    () => servicedesk.getCallList({ id, pageSize: PAGE, pageToken: paging.token, uncalledOnly: uncalled }),
    [id, uncalled, paging.token],
  );
  return (
    <Stack>
      <Link to="/service/call-lists">{t("callLists.back")}</Link>
      <Loaded call={call} retry={retry}>
        {({ callList, nextPageToken }) =>
          callList && (
            <Stack>
              <Title order={1}>{callList.name}</Title>
              <ListProgress called={callList.calledCount} of={callList.entryCount} />
              <Text>{t("callLists.called", { called: count(callList.calledCount, i18n.language), of: count(callList.entryCount, i18n.language) })}</Text>
              <Checkbox
                label={t("callLists.uncalledOnly")}
                checked={uncalled}
                onChange={(e) => {
                  paging.reset();
                  setUncalled(e.currentTarget.checked);
                }}
              />
              <Listing
                items={callList.entries}
                none={t("callLists.empty")}
                head={[t("customers.name"), t("callLists.phone"), t("callLists.reason"), t("callLists.outcome")]}
                more={<More paging={paging} nextPageToken={nextPageToken} />}
                row={(e) => <Entry key={e.partyId} listId={callList.id} entry={e} onRecorded={retry} />}
              />
            </Stack>
          )
        }
      </Loaded>
    </Stack>
  );
}

function Entry({ listId, entry, onRecorded }: { listId: string; entry: CallListEntry; onRecorded: () => void }) {
  const { t } = useTranslation();
  const [outcome, setOutcome] = useState(entry.outcome || CallOutcome.REACHED);
  const [note, setNote] = useState(entry.note);
  const [action, run] = useAction();
  const record = async () => {
    if (await run(() => servicedesk.recordCallOutcome({ callListId: listId, partyId: entry.partyId, outcome, note }))) onRecorded();
  };
  return (
    <Table.Tr>
      <Table.Td>
        <Link to={`/customers/${encodeURIComponent(entry.partyId)}`}>{entry.displayName}</Link>
      </Table.Td>
      <Table.Td>{entry.phone && <a href={`tel:${entry.phone}`}>{entry.phone}</a>}</Table.Td>
      <Table.Td>{entry.reason}</Table.Td>
      <Table.Td>
        <Failure action={action} />
        <Group gap="xs" align="end" role="group" aria-label={t("callLists.callOf", { name: entry.displayName })}>
          {entry.outcome !== CallOutcome.UNSPECIFIED && <Badge variant="light">{t(`callLists.outcomes.${entry.outcome}`)}</Badge>}
          <NativeSelect
            size="xs"
            aria-label={t("callLists.outcome")}
            value={String(outcome)}
            onChange={(e) => setOutcome(Number(e.currentTarget.value))}
            data={OUTCOMES.map((o) => ({ value: String(o), label: t(`callLists.outcomes.${o}`) }))}
          />
          <TextInput size="xs" aria-label={t("callLists.note")} placeholder={t("callLists.note")} value={note} onChange={(e) => setNote(e.currentTarget.value)} />
          <Button size="xs" variant="default" loading={action.busy} onClick={() => void record()}>
            {t("callLists.record")}
          </Button>
        </Group>
      </Table.Td>
    </Table.Tr>
  );
}
