// A lead: who it is and where it came from; qualifying it (working, qualified, or disqualified
// with the reason) and converting it into an opportunity, which creates the customer when the
// lead names none. Each change carries the lead's version, so a lead someone else changed
// meanwhile is refused, not overwritten.
import { Badge, Button, Group, NativeSelect, SimpleGrid, Stack, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { pipeline } from "../../api/clients";
import { navigate } from "../../app/router";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Failure } from "../../components/Failure";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { PartyName } from "../../components/PartyName";
import { Section } from "../../components/Section";
import { Facts } from "../../components/TableParts";
import { useAction } from "../../components/useAction";
import { toMinor } from "../../format";
import { LeadStatus, type Lead as LeadRecord } from "../../gen/crm/sales/v1/pipeline_pb";

const FINAL = [LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED];

export function Lead({ id }: { id: string }) {
  const { t } = useTranslation();
  const [call, retry] = useCall(() => pipeline.getLead({ id }), [id]);
  return (
    <Stack>
      <Link to="/leads">{t("leads.back")}</Link>
      <Loaded call={call} retry={retry}>
        {({ lead }) => lead && <Details lead={lead} onChanged={retry} />}
      </Loaded>
    </Stack>
  );
}

function Details({ lead, onChanged }: { lead: LeadRecord; onChanged: () => void }) {
  const { t } = useTranslation();
  const mayWork = can(session.identity(), "sales.sell") && !FINAL.includes(lead.status);
  const rows: [string, ReactNode][] = [
    [t("leads.company"), lead.companyName],
    [t("leads.contactName"), lead.contactName],
    [t("leads.email"), lead.email],
    [t("leads.phone"), lead.phone],
    [t("leads.source"), [t(`leads.sources.${lead.source}`), lead.sourceRef].filter(Boolean).join(" · ")],
    [t("leads.score"), lead.score],
    [t("leads.owner"), lead.ownerId],
    [t("leads.notes"), lead.notes],
    [t("leads.customer"), lead.partyId ? <PartyName id={lead.partyId} /> : ""],
    [t("leads.reason"), lead.disqualifiedReason],
    [t("leads.opportunity"), lead.opportunityId ? <Link to={`/opportunities/${encodeURIComponent(lead.opportunityId)}`}>{t("leads.openOpportunity")}</Link> : ""],
  ];
  return (
    <Stack>
      <Title order={1}>
        {[lead.companyName, lead.contactName].filter(Boolean).join(" · ")}{" "}
        <Badge size="lg" variant="light">
          {t(`leads.statuses.${lead.status}`)}
        </Badge>
      </Title>
      <Facts rows={rows} />
      {mayWork ? (
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <Qualify lead={lead} onChanged={onChanged} />
          <Convert lead={lead} />
        </SimpleGrid>
      ) : (
        FINAL.includes(lead.status) && <Text>{t("leads.final")}</Text>
      )}
    </Stack>
  );
}

function Qualify({ lead, onChanged }: { lead: LeadRecord; onChanged: () => void }) {
  const { t } = useTranslation();
  const [status, setStatus] = useState(lead.status === LeadStatus.NEW ? LeadStatus.WORKING : lead.status);
  const [reason, setReason] = useState("");
  const [score, setScore] = useState(String(lead.score));
  const [action, run] = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const change = { id: lead.id, etag: lead.etag, status, reason, score: score === "" ? -1 : Number(score) };
    if (await run(() => pipeline.qualifyLead(change))) onChanged();
  };
  return (
    <Section title={t("leads.qualify")}>
      <form onSubmit={submit} aria-label={t("leads.qualify")}>
        <Failure action={action} />
        <Stack gap="xs">
          <NativeSelect
            label={t("leads.status")}
            value={String(status)}
            onChange={(e) => setStatus(Number(e.currentTarget.value))}
            data={[LeadStatus.WORKING, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED].map((s) => ({ value: String(s), label: t(`leads.statuses.${s}`) }))}
          />
          {status === LeadStatus.DISQUALIFIED && (
            <TextInput label={t("leads.reason")} value={reason} required onChange={(e) => setReason(e.currentTarget.value)} error={action.fields.reason} />
          )}
          <TextInput label={t("leads.score")} type="number" min={0} max={100} value={score} onChange={(e) => setScore(e.currentTarget.value)} error={action.fields.score} />
          <Group>
            <Button type="submit" variant="default" loading={action.busy}>
              {t("leads.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Section>
  );
}

function Convert({ lead }: { lead: LeadRecord }) {
  const { t } = useTranslation();
  const [name, setName] = useState(lead.companyName || lead.contactName);
  const [amount, setAmount] = useState("");
  const [currency, setCurrency] = useState("USD");
  const [close, setClose] = useState("");
  const [action, run] = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    let opportunity = "";
    const money = amount ? { currencyCode: currency, amountMinor: toMinor(amount, currency) } : undefined;
    const converted = await run(async () => {
      const r = await pipeline.convertLead({ id: lead.id, etag: lead.etag, opportunityName: name, amount: money, expectedCloseDate: close });
      opportunity = r.opportunity?.id ?? "";
    });
    if (converted) navigate(`/opportunities/${encodeURIComponent(opportunity)}`);
  };
  return (
    <Section title={t("leads.convert")}>
      <form onSubmit={submit} aria-label={t("leads.convert")}>
        <Failure action={action} />
        <Stack gap="xs">
          <TextInput label={t("leads.opportunityName")} value={name} required onChange={(e) => setName(e.currentTarget.value)} error={action.fields.opportunity_name} />
          <Group align="start" grow>
            <TextInput label={t("leads.amount")} type="number" min={0} step="0.01" value={amount} onChange={(e) => setAmount(e.currentTarget.value)} error={action.fields.amount} />
            <TextInput label={t("reports.currency")} value={currency} maxLength={3} onChange={(e) => setCurrency(e.currentTarget.value.toUpperCase())} />
          </Group>
          <TextInput label={t("leads.expectedClose")} type="date" value={close} onChange={(e) => setClose(e.currentTarget.value)} error={action.fields.expected_close_date} />
          <Group>
            <Button type="submit" loading={action.busy}>
              {t("leads.convertSubmit")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Section>
  );
}
