// Campaigns: the list, and a new one aimed at a segment, with what a contact costs and what a
// response earns (their ratio is the break-even response rate its test cells are judged by).
import { Badge, Button, Group, NativeSelect, NumberInput, Stack, Table, TextInput, Textarea, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { campaigns, marketing } from "../../api/clients";
import { navigate } from "../../app/router";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Failure } from "../../components/Failure";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { Section } from "../../components/Section";
import { useAction } from "../../components/useAction";
import { share, toMinor } from "../../format";
import { Channel } from "../../gen/crm/marketing/v1/marketing_pb";
import { Listing } from "../../components/Listing";

const CHANNELS = [Channel.EMAIL, Channel.SMS, Channel.MAIL, Channel.PHONE, Channel.WEB];

export function Campaigns() {
  const { t, i18n } = useTranslation();
  const paging = usePaging();
  const [call, retry] = useCall(() => campaigns.listCampaigns({ pageSize: 50, pageToken: paging.token }), [paging.token]);
  return (
    <Stack>
      <Title order={1}>{t("campaigns.title")}</Title>
      <Section title={t("campaigns.all")}>
        <Loaded call={call} retry={retry}>
          {(page) => (
            <Listing
              items={page.campaigns}
              head={[t("campaigns.name"), t("quotes.status"), t("campaigns.breakEven")]}
              row={(c) => (
                <Table.Tr key={c.id}>
                  <Table.Td>
                    <Link to={`/campaigns/${encodeURIComponent(c.id)}`}>{c.name}</Link>
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="light">{t(`campaigns.statuses.${c.status}`)}</Badge>
                  </Table.Td>
                  <Table.Td>{share(Number(c.breakEvenBps), i18n.language)}</Table.Td>
                </Table.Tr>
              )}
              more={<More paging={paging} nextPageToken={page.nextPageToken} size="xs" />}
            />
          )}
        </Loaded>
      </Section>
      {can(session.identity(), "marketing.act") && <NewCampaign />}
    </Stack>
  );
}

function NewCampaign() {
  const { t } = useTranslation();
  const [name, setName] = useState("");
  const [segmentId, setSegmentId] = useState("");
  const [channel, setChannel] = useState(String(Channel.EMAIL));
  const [currency, setCurrency] = useState("USD");
  const [budget, setBudget] = useState<number | string>(1000);
  const [cost, setCost] = useState<number | string>(1);
  const [profit, setProfit] = useState<number | string>(20);
  const [every, setEvery] = useState<number | string>(10);
  const [code, setCode] = useState("");
  const [message, setMessage] = useState("");
  const [segments] = useCall(() => marketing.listSegments({ pageSize: 500 }), []);
  const [action, run] = useAction();
  const field = (name: string) => action.fields[`campaign.${name}`];
  const amount = (value: number | string) => ({ amountMinor: toMinor(value, currency), currencyCode: currency });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    let created = "";
    const ok = await run(async () => {
      const answer = await campaigns.createCampaign({
        campaign: {
          name,
          segmentId,
          channel: Number(channel),
          budget: amount(budget),
          costPerContact: amount(cost),
          netProfitPerResponse: amount(profit),
          testEveryN: Number(every),
          attributionWindowDays: 30,
          code: code.trim(),
          message,
        },
      });
      created = answer.campaign?.id ?? "";
    });
    if (ok && created) navigate(`/campaigns/${encodeURIComponent(created)}`);
  };

  return (
    <Section title={t("campaigns.new")}>
      <form onSubmit={submit} aria-label={t("campaigns.new")}>
        <Stack gap="xs">
          <Group grow align="start">
            <TextInput label={t("campaigns.name")} value={name} onChange={(e) => setName(e.currentTarget.value)} error={field("name")} />
            <Loaded call={segments}>
              {(found) => (
                <NativeSelect
                  label={t("campaigns.segment")}
                  value={segmentId}
                  onChange={(e) => setSegmentId(e.currentTarget.value)}
                  data={[{ value: "", label: "—" }, ...found.segments.map((s) => ({ value: s.id, label: s.name }))]}
                  error={field("segment_id")}
                />
              )}
            </Loaded>
            <NativeSelect
              label={t("campaigns.channel")}
              value={channel}
              onChange={(e) => setChannel(e.currentTarget.value)}
              data={CHANNELS.map((c) => ({ value: String(c), label: t(`campaigns.channels.${c}`) }))}
            />
          </Group>
          <Group grow align="start">
            <TextInput label={t("campaigns.currency")} value={currency} onChange={(e) => setCurrency(e.currentTarget.value.toUpperCase())} maxLength={3} />
            <NumberInput label={t("campaigns.budget")} min={0} value={budget} onChange={setBudget} error={field("budget.amount_minor")} />
            <NumberInput label={t("campaigns.costPerContact")} min={0} decimalScale={2} value={cost} onChange={setCost} error={field("cost_per_contact.amount_minor")} />
            <NumberInput label={t("campaigns.profitPerResponse")} min={0} decimalScale={2} value={profit} onChange={setProfit} error={field("net_profit_per_response.amount_minor")} />
            <NumberInput label={t("campaigns.testEvery")} min={1} max={1000} value={every} onChange={setEvery} error={field("test_every_n")} />
          </Group>
          <TextInput label={t("campaigns.code")} value={code} onChange={(e) => setCode(e.currentTarget.value.toUpperCase())} error={field("code")} />
          <Textarea label={t("campaigns.message")} value={message} onChange={(e) => setMessage(e.currentTarget.value)} error={field("message")} />
          <Failure action={action} />
          <Group>
            <Button type="submit" loading={action.busy}>
              {t("campaigns.create")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Section>
  );
}
