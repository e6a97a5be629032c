// Outbound call lists: the follow-ups due (a case waiting on the customer, a resolved case not
// rated) or the customers marketing found at risk, built by the service desk; each list with its
// progress, newest first.
import { Button, Group, NativeSelect, Progress, Stack, Table, TextInput, Title } from "@mantine/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { servicedesk } from "../../api/clients";
import { navigate } from "../../app/router";
import { Failure } from "../../components/Failure";
import { Link } from "../../components/Link";
import { Listing } from "../../components/Listing";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { Section } from "../../components/Section";
import { useAction } from "../../components/useAction";
import { count, dateTime } from "../../format";
import { CallListSource } from "../../gen/crm/servicedesk/v1/servicedesk_pb";
import { ServiceNav } from "./ServiceNav";

export function CallLists() {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const paging = usePaging();
  const [call, retry] = useCall(() => servicedesk.listCallLists({ pageSize: 25, pageToken: paging.token }), [paging.token]);
  return (
    <Stack>
      <ServiceNav />
      <Title order={1}>{t("callLists.title")}</Title>
      <NewList />
      <Loaded call={call} retry={retry}>
        {(page) => (
          <Listing
            items={page.callLists}
            none={t("callLists.none")}
            head={[t("callLists.name"), t("callLists.source"), t("callLists.created"), t("callLists.progress")]}
            more={<More paging={paging} nextPageToken={page.nextPageToken} />}
            row={(l) => (
              <Table.Tr key={l.id}>
                <Table.Td>
                  <Link to={`/service/call-lists/${encodeURIComponent(l.id)}`}>{l.name}</Link>
                </Table.Td>
                <Table.Td>{t(`callLists.sources.${l.source}`)}</Table.Td>
                <Table.Td>{l.createTime ? dateTime(timestampDate(l.createTime), locale) : ""}</Table.Td>
                <Table.Td>{t("callLists.called", { called: count(l.calledCount, locale), of: count(l.entryCount, locale) })}</Table.Td>
              </Table.Tr>
            )}
          />
        )}
      </Loaded>
    </Stack>
  );
}

function NewList() {
  const { t } = useTranslation();
  const [name, setName] = useState("");
  const [source, setSource] = useState(CallListSource.FOLLOW_UPS_DUE);
  const [action, run] = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    let id = "";
    if (await run(async () => (id = (await servicedesk.createCallList({ name, source })).callList?.id ?? ""))) {
      navigate(`/service/call-lists/${encodeURIComponent(id)}`);
    }
  };
  return (
    <Section title={t("callLists.new")}>
      <form onSubmit={submit} aria-label={t("callLists.new")}>
        <Failure action={action} />
        <Group align="end">
          <TextInput label={t("callLists.name")} required value={name} onChange={(e) => setName(e.currentTarget.value)} error={action.fields.name} />
          <NativeSelect
            label={t("callLists.source")}
            value={String(source)}
            onChange={(e) => setSource(Number(e.currentTarget.value))}
            data={[CallListSource.FOLLOW_UPS_DUE, CallListSource.AT_RISK].map((s) => ({ value: String(s), label: t(`callLists.sources.${s}`) }))}
          />
          <Button type="submit" loading={action.busy}>
            {t("callLists.create")}
          </Button>
        </Group>
      </form>
    </Section>
  );
}

/** A list's progress as a bar, named for screen readers. */
export function ListProgress({ called, of }: { called: bigint; of: bigint }) {
  const { t, i18n } = useTranslation();
  const label = t("callLists.called", { called: count(called, i18n.language), of: count(of, i18n.language) });
  return <Progress value={of > 0n ? Number((called * 100n) / of) : 0} aria-label={label} />;
}
