// The case queue: open cases most urgent first, with their priority and the time left to each
// resolution target counting down; narrowed to a queue or to the agent's own cases. It reads
// again every half minute, as cases arrive and are taken while it is open.
import { Badge, Checkbox, Group, NativeSelect, Stack, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { servicedesk } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Link } from "../../components/Link";
import { Listing } from "../../components/Listing";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { useNow } from "../../components/useNow";
import { CaseStatus } from "../../gen/crm/servicedesk/v1/servicedesk_pb";
import { ServiceNav } from "./ServiceNav";
import { SlaClock } from "./SlaClock";

const PAGE = 50;
const REFRESH_MS = 30_000;

export function Cases() {
  const { t } = useTranslation();
  const identity = session.identity();
  const [queueId, setQueueId] = useState("");
  const [mine, setMine] = useState(false);
  const paging = usePaging();
  const pageToken = paging.token;
  const agentId = mine ? (identity?.user ?? "") : "";
  const [queues] = useCall(() => servicedesk.listQueues({ pageSize: 500 }), []);
  const [call, retry] = useCall(
    () => servicedesk.listCases({ openOnly: true, withSla: true, queueId, agentId, pageSize: PAGE, pageToken }),
    [queueId, agentId, pageToken],
    REFRESH_MS,
  );
  const now = useNow();
  const filter = (change: () => void) => {
    change();
    paging.reset();
  };

  return (
    <Stack>
      <ServiceNav />
      <Group justify="space-between">
        <Title order={1}>{t("cases.title")}</Title>
        {can(identity, "service.work") && <Link to="/cases/new">{t("cases.open")}</Link>}
      </Group>
      <Group align="end">
        <Loaded call={queues}>
          {(found) => (
            <NativeSelect
              label={t("cases.queue")}
              value={queueId}
              onChange={(e) => filter(() => setQueueId(e.currentTarget.value))}
              data={[{ value: "", label: t("cases.allQueues") }, ...found.queues.map((q) => ({ value: q.id, label: q.name }))]}
            />
          )}
        </Loaded>
        <Checkbox label={t("cases.mine")} checked={mine} onChange={(e) => filter(() => setMine(e.currentTarget.checked))} />
      </Group>
      <Loaded call={call} retry={retry}>
        {(page) => {
          const sla = new Map(page.sla.map((s) => [s.caseId, s]));
          return (
            <Listing
              items={page.cases}
              none={t("cases.none")}
              table={{ striped: true, highlightOnHover: true }}
              head={[t("screenPop.priority"), t("screenPop.subject"), t("cases.status"), t("cases.agent"), t("screenPop.resolutionDue")]}
              row={(c) => {
                const state = sla.get(c.id);
                return (
                  <Table.Tr key={c.id}>
                    <Table.Td>
                      <Badge variant={c.priority <= 1 ? "filled" : "light"} color={c.priority <= 1 ? "red.9" : undefined}>
                        P{c.priority}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      <Link to={`/cases/${encodeURIComponent(c.id)}`}>{c.subject}</Link>
                    </Table.Td>
                    <Table.Td>{t(`cases.statuses.${c.status}`)}</Table.Td>
                    <Table.Td>{c.agentId || "—"}</Table.Td>
                    <Table.Td>
                      <SlaClock
                        due={c.resolutionDueTime}
                        now={now}
                        paused={c.status === CaseStatus.WAITING_ON_CUSTOMER}
                      />
                      {state && state.escalatedTo.length > 0 && (
                        <Text size="xs" c="red.9">
                          {t("cases.escalatedTo", { levels: state.escalatedTo.map((l) => t(`cases.levels.${l}`, { defaultValue: l })).join(", ") })}
                        </Text>
                      )}
                    </Table.Td>
                  </Table.Tr>
                );
              }}
              more={<More paging={paging} nextPageToken={page.nextPageToken} />}
            />
          );
        }}
      </Loaded>
    </Stack>
  );
}
