// A customer's own service desk: their open requests and those resolved, a new request, and the
// help articles. The service narrows every list to the signed-in customer's own cases.
import { Button, Card, Group, NativeSelect, Stack, Table, Text, TextInput, Textarea, Title } from "@mantine/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { servicedesk } from "../../api/clients";
import { navigate } from "../../app/router";
import { session } from "../../auth/session";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { useAction } from "../../components/useAction";
import { dateTime } from "../../format";
import { CaseChannel, CaseType } from "../../gen/crm/servicedesk/v1/servicedesk_pb";
import { Section } from "../../components/Section";
import { Failure } from "../../components/Failure";
import { Listing } from "../../components/Listing";

const PAGE = 20;
const TYPES = [CaseType.INQUIRY, CaseType.REQUEST, CaseType.COMPLAINT, CaseType.INCIDENT];

export function MyRequests() {
  const { t } = useTranslation();
  return (
    <Stack>
      <Title order={1}>{t("self.title")}</Title>
      <Requests open />
      <Requests open={false} />
      <NewRequest />
      <HelpArticles />
    </Stack>
  );
}

/** The customer's open requests, or those resolved and closed (most recent first). */
function Requests({ open }: { open: boolean }) {
  const { t, i18n } = useTranslation();
  const partyId = session.identity()?.customerId ?? "";
  const paging = usePaging();
  const [call, retry] = useCall(
    () =>
      servicedesk.listCases({ partyId, openOnly: open, closedOnly: !open, pageSize: PAGE, pageToken: paging.token }),
    [partyId, open, paging.token],
  );
  const title = t(open ? "self.open" : "self.closed");
  return (
    <Section title={title}>
      <Loaded call={call} retry={retry}>
        {(page) => (
          <Listing
            items={page.cases}
            head={[t("screenPop.subject"), t("cases.status"), t("self.opened")]}
            row={(c) => (
              <Table.Tr key={c.id}>
                <Table.Td>
                  <Link to={`/cases/${encodeURIComponent(c.id)}`}>{c.subject}</Link>
                </Table.Td>
                <Table.Td>{t(`cases.statuses.${c.status}`)}</Table.Td>
                <Table.Td>{dateTime(c.openTime ? timestampDate(c.openTime) : undefined, i18n.language)}</Table.Td>
              </Table.Tr>
            )}
            more={<More paging={paging} nextPageToken={page.nextPageToken} size="xs" />}
          />
        )}
      </Loaded>
    </Section>
  );
}

/** A new request: the desk routes it to its self-service queue and sets its priority. */
function NewRequest() {
  const { t } = useTranslation();
  const [subject, setSubject] = useState("");
  const [description, setDescription] = useState("");
  const [type, setType] = useState(String(CaseType.INQUIRY));
  const [severity, setSeverity] = useState("3");
  const [action, run] = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    let opened = "";
    const ok = await run(async () => {
      const { case: created } = await servicedesk.openCase({
        case: { subject, description, type: Number(type), severity: Number(severity), channel: CaseChannel.WEB },
      });
      opened = created?.id ?? "";
    });
    if (ok && opened) navigate(`/cases/${encodeURIComponent(opened)}`);
  };
  return (
    <Card withBorder component="section" aria-label={t("self.new")}>
      <form onSubmit={submit} aria-label={t("self.new")}>
        <Stack gap="xs">
          <Title order={2} size="h4">
            {t("self.new")}
          </Title>
          <TextInput label={t("screenPop.subject")} value={subject} onChange={(e) => setSubject(e.currentTarget.value)} error={action.fields["case.subject"]} />
          <Textarea label={t("cases.description")} value={description} onChange={(e) => setDescription(e.currentTarget.value)} error={action.fields["case.description"]} autosize minRows={3} />
          <Group grow align="start">
            <NativeSelect
              label={t("cases.type")}
              value={type}
              onChange={(e) => setType(e.currentTarget.value)}
              data={TYPES.map((v) => ({ value: String(v), label: t(`cases.types.${v}`) }))}
            />
            <NativeSelect
              label={t("self.urgency")}
              value={severity}
              onChange={(e) => setSeverity(e.currentTarget.value)}
              data={["1", "2", "3", "4"].map((v) => ({ value: v, label: t(`cases.severities.${v}`) }))}
            />
          </Group>
          <Failure action={action} />
          <Group>
            <Button type="submit" loading={action.busy}>
              {t("self.send")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

/** The knowledge base, searched in any language. */
function HelpArticles() {
  const { t } = useTranslation();
  const [text, setText] = useState("");
  const [query, setQuery] = useState("");
  const [call, retry] = useCall(
    async () => (query ? (await servicedesk.searchArticles({ query, limit: 10 })).hits : []),
    [query],
  );
  return (
    <Section title={t("self.help")}>
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(text.trim());
        }}
      >
        <Group align="end">
          <TextInput label={t("self.searchHelp")} value={text} onChange={(e) => setText(e.currentTarget.value)} style={{ flex: 1 }} />
          <Button type="submit" variant="default">
            {t("customers.submit")}
          </Button>
        </Group>
      </form>
      <Loaded call={call} retry={retry}>
        {(hits) =>
          query && hits.length === 0 ? (
            <Text mt="xs">{t("self.noArticle")}</Text>
          ) : (
            <Stack gap="xs" mt="xs">
              {hits.map((hit, i) => (
                <div key={hit.article?.id ?? i}>
                  <Text fw={600}>{hit.article?.title}</Text>
                  <Text size="sm">{hit.article?.body}</Text>
                </div>
              ))}
            </Stack>
          )
        }
      </Loaded>
    </Section>
  );
}
