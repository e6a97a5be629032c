// Opening a case for a customer, usually from the screen pop while they are on the line (the
// customer and the number they called from come filled in). The service sets its priority and
// SLA and assigns it; the page then shows the new case.
import { Button, Group, NativeSelect, Stack, TextInput, Textarea, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { servicedesk } from "../../api/clients";
import { navigate, useLocation } from "../../app/router";
import { Loaded, useCall } from "../../components/Loaded";
import { useAction } from "../../components/useAction";
import { CaseChannel, CaseType } from "../../gen/crm/servicedesk/v1/servicedesk_pb";
import { Failure } from "../../components/Failure";

const TYPES = [CaseType.INQUIRY, CaseType.COMPLAINT, CaseType.REQUEST, CaseType.INCIDENT];
const CHANNELS = [CaseChannel.PHONE, CaseChannel.EMAIL, CaseChannel.WEB, CaseChannel.CHAT, CaseChannel.IVR, CaseChannel.WALK_IN];

export function OpenCase() {
  const { t } = useTranslation();
  const { query } = useLocation();
  const [partyId, setPartyId] = useState(query.get("party") ?? "");
  const [contact, setContact] = useState(query.get("contact") ?? "");
  const [subject, setSubject] = useState("");
  const [description, setDescription] = useState("");
  const [type, setType] = useState(String(CaseType.INQUIRY));
  const [channel, setChannel] = useState(String(query.get("contact") ? CaseChannel.PHONE : CaseChannel.EMAIL));
  const [severity, setSeverity] = useState("3");
  const [category, setCategory] = useState("");
  const [queueId, setQueueId] = useState("");
  const [queues] = useCall(() => servicedesk.listQueues({ pageSize: 500 }), []);
  const [action, run] = useAction();
  const field = (name: string) => action.fields[`case.${name}`];

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    let opened = "";
    const ok = await run(async () => {
      const { case: created } = await servicedesk.openCase({
        case: {
          partyId: partyId.trim(),
          contact,
          subject,
          description,
          type: Number(type),
          channel: Number(channel),
          severity: Number(severity),
          category: category.trim(),
          queueId,
        },
      });
      opened = created?.id ?? "";
    });
    if (ok && opened) navigate(`/cases/${encodeURIComponent(opened)}`);
  };

  return (
    <form onSubmit={submit} aria-label={t("cases.open")}>
      <Stack maw={720}>
        <Title order={1}>{t("cases.open")}</Title>
        <Group grow align="start">
          <TextInput label={t("signIn.customer")} value={partyId} onChange={(e) => setPartyId(e.currentTarget.value)} error={field("party_id")} required />
          <TextInput label={t("cases.contact")} value={contact} onChange={(e) => setContact(e.currentTarget.value)} error={field("contact")} />
        </Group>
        <TextInput label={t("screenPop.subject")} value={subject} onChange={(e) => setSubject(e.currentTarget.value)} error={field("subject")} required />
        <Textarea label={t("cases.description")} value={description} onChange={(e) => setDescription(e.currentTarget.value)} error={field("description")} autosize minRows={3} />
        <Group grow align="start">
          <NativeSelect
            label={t("cases.type")}
            value={type}
            onChange={(e) => setType(e.currentTarget.value)}
            data={TYPES.map((v) => ({ value: String(v), label: t(`cases.types.${v}`) }))}
            error={field("type")}
          />
          <NativeSelect
            label={t("cases.severity")}
            value={severity}
            onChange={(e) => setSeverity(e.currentTarget.value)}
            data={["1", "2", "3", "4"].map((v) => ({ value: v, label: t(`cases.severities.${v}`) }))}
            error={field("severity")}
          />
          <NativeSelect
            label={t("cases.channel")}
            value={channel}
            onChange={(e) => setChannel(e.currentTarget.value)}
            data={CHANNELS.map((v) => ({ value: String(v), label: t(`cases.channels.${v}`) }))}
            error={field("channel")}
          />
        </Group>
        <Group grow align="start">
          <TextInput label={t("cases.category")} value={category} onChange={(e) => setCategory(e.currentTarget.value)} error={field("category")} />
          <Loaded call={queues}>
            {(found) => (
              <NativeSelect
                label={t("cases.queue")}
                value={queueId}
                onChange={(e) => setQueueId(e.currentTarget.value)}
                data={[{ value: "", label: "—" }, ...found.queues.map((q) => ({ value: q.id, label: q.name }))]}
                error={field("queue_id")}
              />
            )}
          </Loaded>
        </Group>
        <Failure action={action} />
        <Group>
          <Button type="submit" loading={action.busy}>
            {t("cases.openSubmit")}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
