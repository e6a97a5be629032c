// Leads: prospective sales not yet qualified, newest first, by status; a new one typed in (from
// a call, a fair). Each opens to qualify and convert it.
import { Badge, Button, Group, NativeSelect, SimpleGrid, Stack, Table, TextInput, Textarea, Title } from "@mantine/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { pipeline } from "../../api/clients";
import { navigate } from "../../app/router";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Failure } from "../../components/Failure";
import { Link } from "../../components/Link";
import { Listing } from "../../components/Listing";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { Section } from "../../components/Section";
import { useAction } from "../../components/useAction";
import { day } from "../../format";
import { LeadSource, LeadStatus } from "../../gen/crm/sales/v1/pipeline_pb";
import { SalesNav } from "./SalesNav";

const PAGE = 25;
const STATUSES = [LeadStatus.UNSPECIFIED, LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED, LeadStatus.CONVERTED];

export function Leads() {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const [status, setStatus] = useState(LeadStatus.UNSPECIFIED);
  const paging = usePaging();
  const [call, retry] = useCall(() => pipeline.listLeads({ status, pageSize: PAGE, pageToken: paging.token }), [status, paging.token]);
  return (
    <Stack>
      <SalesNav />
      <Title order={1}>{t("leads.title")}</Title>
      {can(session.identity(), "sales.lead") && <NewLead />}
      <NativeSelect
        label={t("leads.status")}
        value={String(status)}
        w={220}
        onChange={(e) => {
          paging.reset();
          setStatus(Number(e.currentTarget.value));
        }}
        data={STATUSES.map((s) => ({ value: String(s), label: s ? t(`leads.statuses.${s}`) : t("leads.anyStatus") }))}
      />
      <Loaded call={call} retry={retry}>
        {(page) => (
          <Listing
            items={page.leads}
            none={t("leads.none")}
            head={[t("leads.who"), t("customers.contact"), t("leads.source"), t("leads.status"), t("leads.score"), t("leads.created")]}
            more={<More paging={paging} nextPageToken={page.nextPageToken} />}
            row={(l) => (
              <Table.Tr key={l.id}>
                <Table.Td>
                  <Link to={`/leads/${encodeURIComponent(l.id)}`}>{[l.companyName, l.contactName].filter(Boolean).join(" · ") || l.id}</Link>
                </Table.Td>
                <Table.Td>{[l.email, l.phone].filter(Boolean).join(", ")}</Table.Td>
                <Table.Td>{t(`leads.sources.${l.source}`)}</Table.Td>
                <Table.Td>
                  <Badge variant="light">{t(`leads.statuses.${l.status}`)}</Badge>
                </Table.Td>
                <Table.Td>{l.score}</Table.Td>
                <Table.Td>{l.createTime ? day(timestampDate(l.createTime), locale) : ""}</Table.Td>
              </Table.Tr>
            )}
          />
        )}
      </Loaded>
    </Stack>
  );
}

function NewLead() {
  const { t } = useTranslation();
  const [lead, setLead] = useState({ companyName: "", contactName: "", email: "", phone: "", notes: "" });
  const [action, run] = useAction();
  const field = (name: keyof typeof lead) => ({
    value: lead[name],
    onChange: (e: { currentTarget: { value: string } }) => setLead({ ...lead, [name]: e.currentTarget.value }),
    error: action.fields[`lead.${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`],
  });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    let id = "";
    if (await run(async () => (id = (await pipeline.createLead({ lead: { ...lead, source: LeadSource.MANUAL } })).lead?.id ?? ""))) {
      navigate(`/leads/${encodeURIComponent(id)}`);
    }
  };
  return (
    <Section title={t("leads.new")}>
      <form onSubmit={submit} aria-label={t("leads.new")}>
        <Failure action={action} />
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <TextInput label={t("leads.company")} {...field("companyName")} />
          <TextInput label={t("leads.contactName")} {...field("contactName")} />
          <TextInput label={t("leads.email")} type="email" {...field("email")} />
          <TextInput label={t("leads.phone")} type="tel" {...field("phone")} />
        </SimpleGrid>
        <Textarea label={t("leads.notes")} mt="xs" {...field("notes")} />
        <Group mt="sm">
          <Button type="submit" loading={action.busy}>
            {t("leads.create")}
          </Button>
        </Group>
      </form>
    </Section>
  );
}
