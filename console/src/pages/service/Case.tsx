// A case: its SLA clocks counting down, the escalations raised, its timeline, the knowledge
// articles that may answer it, and the agent's work on it (status, comments). It reads again
// every few seconds, so an escalation raised by the scheduler appears while the agent watches.
// The customer whose case it is sees it too, without the desk's internals, and does their part.
import { Badge, Button, Checkbox, Group, List, NativeSelect, SimpleGrid, Stack, Text, Textarea, Title } from "@mantine/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { servicedesk } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { useAction } from "../../components/useAction";
import { useNow } from "../../components/useNow";
import { dateTime } from "../../format";
import { CaseStatus, type Case as ServiceCase } from "../../gen/crm/servicedesk/v1/servicedesk_pb";
import { CustomerWork } from "./CustomerWork";
import { SlaClock } from "./SlaClock";
import { Section } from "../../components/Section";
import { Failure } from "../../components/Failure";

const REFRESH_MS = 5_000;
const NEXT_STATUSES = [
  CaseStatus.IN_PROGRESS,
  CaseStatus.WAITING_ON_CUSTOMER,
  CaseStatus.RESOLVED,
  CaseStatus.CLOSED,
];

export function Case({ id }: { id: string }) {
  const { t } = useTranslation();
  const staff = can(session.identity(), "service.cases");
  const [call, retry] = useCall(async () => (await servicedesk.getCase({ id })).case!, [id], REFRESH_MS);
  return (
    <Stack>
      {staff ? <Link to="/cases">{t("cases.back")}</Link> : <Link to="/my">{t("self.back")}</Link>}
      <Loaded call={call} retry={retry}>
        {(found) => <View item={found} onChanged={retry} />}
      </Loaded>
    </Stack>
  );
}

function View({ item, onChanged }: { item: ServiceCase; onChanged: () => void }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const now = useNow();
  const identity = session.identity();
  const staff = can(identity, "service.cases");
  const mayWork = can(identity, "service.work");
  const closed = item.status === CaseStatus.RESOLVED || item.status === CaseStatus.CLOSED;
  const waiting = item.status === CaseStatus.WAITING_ON_CUSTOMER;
  return (
    <Stack>
      <Title order={1}>
        {item.subject}{" "}
        <Badge size="lg" color={item.priority <= 1 ? "red.9" : undefined}>
          P{item.priority}
        </Badge>{" "}
        <Badge size="lg" variant="light">
          {t(`cases.statuses.${item.status}`)}
        </Badge>
      </Title>
      <Group gap="xl">
        {staff && <Link to={`/customers/${encodeURIComponent(item.partyId)}`}>{t("opportunity.customer")}</Link>}
        <Text>{t(`cases.types.${item.type}`)}</Text>
        {item.category && <Text>{item.category}</Text>}
        <Text>
          {t("cases.severity")}: {item.severity}
        </Text>
        <Text>
          {t("cases.agent")}: {item.agentId || "—"}
        </Text>
        <Text>{dateTime(item.openTime ? timestampDate(item.openTime) : undefined, locale)}</Text>
      </Group>
      {item.description && <Text>{item.description}</Text>}
      {item.resolution && (
        <Text>
          <strong>{t("cases.resolution")}:</strong> {item.resolution}
        </Text>
      )}
      {item.satisfaction > 0 && <Text>{t("self.rated", { rating: item.satisfaction })}</Text>}
      {!staff && <CustomerWork item={item} onChanged={onChanged} />}
      {staff && (
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Section title={t("cases.sla")}>
          <Group justify="space-between">
            <Text>{t("cases.responseDue")}</Text>
            <SlaClock due={item.responseDueTime} now={now} met={!!item.firstResponseTime} paused={waiting} />
          </Group>
          <Group justify="space-between">
            <Text>{t("screenPop.resolutionDue")}</Text>
            <SlaClock due={item.resolutionDueTime} now={now} met={closed} paused={waiting} />
          </Group>
          <Escalations caseId={item.id} etag={item.etag} />
        </Section>
        {mayWork && !closed && <Suggestions caseId={item.id} />}
      </SimpleGrid>
      )}
      {mayWork && <Work item={item} onChanged={onChanged} />}
      <Section title={t("cases.timeline")}>
        <List spacing="xs">
          {[...item.timeline].reverse().map((entry, i) => (
            <List.Item key={i}>
              <Text size="sm" c="gray.7">
                {dateTime(entry.time ? timestampDate(entry.time) : undefined, locale)} · {entry.actorId} ·{" "}
                {t(`cases.entries.${entry.kind}`, { defaultValue: entry.kind })}
                {entry.internal ? ` · ${t("cases.internal")}` : ""}
              </Text>
              <Text>{entry.text}</Text>
            </List.Item>
          ))}
        </List>
      </Section>
    </Stack>
  );
}

/** The escalations raised, newest first; read again whenever the case changes. */
function Escalations({ caseId, etag }: { caseId: string; etag: string }) {
  const { t, i18n } = useTranslation();
  const [call, retry] = useCall(() => servicedesk.listEscalations({ caseId, pageSize: 20 }), [caseId, etag], REFRESH_MS);
  return (
    <Stack gap={4} mt="sm" aria-live="polite">
      <Text fw={600}>{t("cases.escalations")}</Text>
      <Loaded call={call} retry={retry}>
        {(page) =>
          page.escalations.length === 0 ? (
            <Text size="sm">{t("cases.noEscalation")}</Text>
          ) : (
            <List>
              {page.escalations.map((e) => (
                <List.Item key={e.level}>
                  <Badge color="red.9" mr="xs">
                    {t(`cases.levels.${e.level}`, { defaultValue: e.level })}
                  </Badge>
                  {dateTime(e.raiseTime ? timestampDate(e.raiseTime) : undefined, i18n.language)} · {e.reason}
                </List.Item>
              ))}
            </List>
          )
        }
      </Loaded>
    </Stack>
  );
}

/** Knowledge articles that may answer the case. */
function Suggestions({ caseId }: { caseId: string }) {
  const { t } = useTranslation();
  const [call, retry] = useCall(() => servicedesk.suggestArticles({ caseId }), [caseId]);
  return (
    <Section title={t("cases.suggestions")}>
      <Loaded call={call} retry={retry}>
        {(found) =>
          found.hits.length === 0 ? (
            <Text>{t("c360.noneYet")}</Text>
          ) : (
            <List>
              {found.hits.map((hit, i) => (
                <List.Item key={hit.article?.id ?? i}>
                  <Text fw={600}>{hit.article?.title}</Text>
                  <Text size="sm" lineClamp={2}>
                    {hit.article?.body}
                  </Text>
                </List.Item>
              ))}
            </List>
          )
        }
      </Loaded>
    </Section>
  );
}

/** The agent's work: moving the case on, and commenting. */
function Work({ item, onChanged }: { item: ServiceCase; onChanged: () => void }) {
  const { t } = useTranslation();
  const [status, setStatus] = useState(String(CaseStatus.IN_PROGRESS));
  const [resolution, setResolution] = useState("");
  const [comment, setComment] = useState("");
  const [internal, setInternal] = useState(false);
  const [action, run] = useAction();
  const change = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await run(() => servicedesk.changeCaseStatus({ id: item.id, etag: item.etag, status: Number(status), resolution }));
    if (ok) {
      setResolution("");
      onChanged();
    }
  };
  const addComment = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await run(() => servicedesk.addComment({ id: item.id, text: comment, internal }));
    if (ok) {
      setComment("");
      onChanged();
    }
  };
  return (
    <Section title={t("cases.work")}>
      <Failure action={action} />
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <form onSubmit={change} aria-label={t("cases.changeStatus")}>
          <Stack gap="xs">
            <NativeSelect
              label={t("cases.status")}
              value={status}
              onChange={(e) => setStatus(e.currentTarget.value)}
              data={NEXT_STATUSES.map((s) => ({ value: String(s), label: t(`cases.statuses.${s}`) }))}
              error={action.fields.status}
            />
            {Number(status) === CaseStatus.RESOLVED && (
              <Textarea
                label={t("cases.resolution")}
                value={resolution}
                onChange={(e) => setResolution(e.currentTarget.value)}
                error={action.fields.resolution}
              />
            )}
            <Group>
              <Button type="submit" loading={action.busy}>
                {t("cases.changeStatus")}
              </Button>
            </Group>
          </Stack>
        </form>
        <form onSubmit={addComment} aria-label={t("cases.comment")}>
          <Stack gap="xs">
            <Textarea
              label={t("cases.comment")}
              value={comment}
              onChange={(e) => setComment(e.currentTarget.value)}
              error={action.fields.text}
            />
            <Checkbox label={t("cases.internalNote")} checked={internal} onChange={(e) => setInternal(e.currentTarget.checked)} />
            <Group>
              <Button type="submit" variant="default" loading={action.busy}>
                {t("cases.addComment")}
              </Button>
            </Group>
          </Stack>
        </form>
      </SimpleGrid>
    </Section>
  );
}
