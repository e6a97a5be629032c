// The service desk's settings for its managers: the queues cases wait in, the SLA targets per
// customer tier and priority, and running the escalations now rather than at the next tick.
import { Button, Group, NativeSelect, NumberInput, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { servicedesk } from "../../api/clients";
import { Loaded, useCall } from "../../components/Loaded";
import { useAction } from "../../components/useAction";
import { Section } from "../../components/Section";
import { Failure } from "../../components/Failure";
import { Listing } from "../../components/Listing";
import { TableHead } from "../../components/TableParts";

export function ServiceSettings() {
  const { t } = useTranslation();
  return (
    <Stack>
      <Title order={1}>{t("settings.title")}</Title>
      <Queues />
      <SlaPolicies />
      <RunEscalations />
    </Stack>
  );
}

function Queues() {
  const { t } = useTranslation();
  const [call, retry] = useCall(() => servicedesk.listQueues({ pageSize: 500 }), []);
  const [name, setName] = useState("");
  const [supervisor, setSupervisor] = useState("");
  const [action, run] = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await run(() => servicedesk.createQueue({ queue: { name, supervisorId: supervisor } }))) {
      setName("");
      setSupervisor("");
      retry();
    }
  };
  return (
    <Section title={t("settings.queues")}>
      <Loaded call={call} retry={retry}>
        {(found) => (
          <Listing
            items={found.queues}
            head={[t("settings.queueName"), t("settings.supervisor")]}
            row={(q) => (
              <Table.Tr key={q.id}>
                <Table.Td>{q.name}</Table.Td>
                <Table.Td>{q.supervisorId || "—"}</Table.Td>
              </Table.Tr>
            )}
          />
        )}
      </Loaded>
      <form onSubmit={submit} aria-label={t("settings.newQueue")}>
        <Group align="end" mt="sm">
          <TextInput label={t("settings.queueName")} value={name} onChange={(e) => setName(e.currentTarget.value)} error={action.fields["queue.name"]} />
          <TextInput label={t("settings.supervisor")} value={supervisor} onChange={(e) => setSupervisor(e.currentTarget.value)} error={action.fields["queue.supervisor_id"]} />
          <Button type="submit" loading={action.busy}>
            {t("settings.newQueue")}
          </Button>
        </Group>
        <Failure action={action} />
      </form>
    </Section>
  );
}

function SlaPolicies() {
  const { t } = useTranslation();
  const [call, retry] = useCall(() => servicedesk.listSlaPolicies({ pageSize: 500 }), []);
  const [tier, setTier] = useState("");
  const [priority, setPriority] = useState("1");
  const [response, setResponse] = useState<number | string>(60);
  const [resolution, setResolution] = useState<number | string>(480);
  const [action, run] = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const policy = {
      tier: tier.trim(),
      priority: Number(priority),
      responseMinutes: BigInt(Math.round(Number(response))),
      resolutionMinutes: BigInt(Math.round(Number(resolution))),
    };
    if (await run(() => servicedesk.setSlaPolicy({ policy }))) retry();
  };
  return (
    <Section title={t("settings.sla")}>
      <Loaded call={call} retry={retry}>
        {(found) => (
          <Table>
            <TableHead heads={[t("c360.tier"), t("screenPop.priority"), t("settings.responseMinutes"), t("settings.resolutionMinutes")]} />
            <Table.Tbody>
              {found.policies.map((p) => (
                <Table.Tr key={`${p.tier}/${p.priority}`}>
                  <Table.Td>{p.tier || t("settings.everyTier")}</Table.Td>
                  <Table.Td>P{p.priority}</Table.Td>
                  <Table.Td>{String(p.responseMinutes)}</Table.Td>
                  <Table.Td>{String(p.resolutionMinutes)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Loaded>
      <form onSubmit={submit} aria-label={t("settings.setSla")}>
        <Group align="end" mt="sm">
          <TextInput label={t("c360.tier")} placeholder={t("settings.everyTier")} value={tier} onChange={(e) => setTier(e.currentTarget.value)} error={action.fields["policy.tier"]} w={140} />
          <NativeSelect
            label={t("screenPop.priority")}
            value={priority}
            onChange={(e) => setPriority(e.currentTarget.value)}
            data={["1", "2", "3", "4"].map((v) => ({ value: v, label: `P${v}` }))}
            error={action.fields["policy.priority"]}
          />
          <NumberInput label={t("settings.responseMinutes")} min={1} value={response} onChange={setResponse} error={action.fields["policy.response_minutes"]} w={170} />
          <NumberInput label={t("settings.resolutionMinutes")} min={1} value={resolution} onChange={setResolution} error={action.fields["policy.resolution_minutes"]} w={170} />
          <Button type="submit" loading={action.busy}>
            {t("settings.setSla")}
          </Button>
        </Group>
        <Failure action={action} />
      </form>
    </Section>
  );
}

function RunEscalations() {
  const { t } = useTranslation();
  const [raised, setRaised] = useState<number | null>(null);
  const [action, run] = useAction();
  const start = () => run(async () => setRaised((await servicedesk.runEscalations({})).raised.length));
  return (
    <Section title={t("settings.escalations")}>
      <Text size="sm" mb="xs">
        {t("settings.escalationsHint")}
      </Text>
      <Group>
        <Button variant="default" onClick={() => void start()} loading={action.busy}>
          {t("settings.runEscalations")}
        </Button>
        {raised !== null && <Text role="status">{t("settings.raised", { count: raised })}</Text>}
      </Group>
      <Failure action={action} />
    </Section>
  );
}
