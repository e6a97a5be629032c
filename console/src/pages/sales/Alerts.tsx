// Sales alerts: stalled deals, overdue closes, early-stage pile-ups and falling new business,
// each for the rep who should act (and their manager). A seller marks one handled; a manager
// can run the rules now instead of waiting for their next round.
import { Alert as Notice, Badge, Button, Checkbox, Group, Stack, Table, Text, Title } from "@mantine/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { salesReports } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Link } from "../../components/Link";
import { Listing } from "../../components/Listing";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { useAction } from "../../components/useAction";
import { dateTime } from "../../format";
import { AlertKind, type Alert } from "../../gen/crm/sales/v1/reports_pb";
import { SalesNav } from "./SalesNav";

const PAGE = 50;

/** Alerts about one deal name it; the others name the rep. */
const ABOUT_A_DEAL = [AlertKind.STALLED_DEAL, AlertKind.OVERDUE_CLOSE];

export function Alerts() {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const identity = session.identity();
  const [resolved, setResolved] = useState(false);
  const paging = usePaging();
  const [call, retry] = useCall(
    () => salesReports.listAlerts({ includeResolved: resolved, pageSize: PAGE, pageToken: paging.token }),
    [resolved, paging.token],
  );
  const [state, run] = useAction();
  const [said, setSaid] = useState("");

  const evaluate = async () => {
    let raised = 0;
    if (await run(async () => (raised = (await salesReports.evaluateAlerts({})).raised.length))) {
      setSaid(t("alerts.raised", { count: raised }));
      paging.reset();
      retry();
    }
  };
  const resolve = async (alert: Alert) => {
    if (await run(() => salesReports.resolveAlert({ id: alert.id }))) {
      setSaid(t("alerts.resolved", { message: alert.message }));
      retry();
    }
  };

  return (
    <Stack>
      <SalesNav />
      <Title order={1}>{t("alerts.title")}</Title>
      <Group>
        <Checkbox
          label={t("alerts.includeResolved")}
          checked={resolved}
          onChange={(e) => {
            paging.reset();
            setResolved(e.currentTarget.checked);
          }}
        />
        {can(identity, "sales.manage") && (
          <Button variant="default" loading={state.busy} onClick={() => void evaluate()}>
            {t("alerts.evaluate")}
          </Button>
        )}
      </Group>
      <Text role="status" aria-live="polite">
        {said}
      </Text>
      {state.failure && (
        <Notice color="red" role="alert">
          {state.failure}
        </Notice>
      )}
      <Loaded call={call} retry={retry}>
        {(page) => (
          <Listing
            items={page.alerts}
            none={t("alerts.none")}
            head={[t("alerts.kind"), t("alerts.message"), t("alerts.owner"), t("alerts.raisedAt"), ""]}
            more={<More paging={paging} nextPageToken={page.nextPageToken} />}
            row={(a) => (
              <Table.Tr key={a.id}>
                <Table.Td>
                  <Badge variant="light">{t(`alerts.kinds.${a.kind}`)}</Badge>
                </Table.Td>
                <Table.Td>
                  {ABOUT_A_DEAL.includes(a.kind) ? <Link to={`/opportunities/${encodeURIComponent(a.subjectId)}`}>{a.message}</Link> : a.message}
                </Table.Td>
                <Table.Td>{a.managerId ? t("alerts.ownerAndManager", { owner: a.ownerId, manager: a.managerId }) : a.ownerId}</Table.Td>
                <Table.Td>{a.raiseTime ? dateTime(timestampDate(a.raiseTime), locale) : ""}</Table.Td>
                <Table.Td>
                  {a.resolveTime ? (
                    <Text size="sm">{t("alerts.resolvedAt", { time: dateTime(timestampDate(a.resolveTime), locale) })}</Text>
                  ) : (
                    can(identity, "sales.sell") && (
                      <Button size="xs" variant="light" onClick={() => void resolve(a)} aria-label={t("alerts.resolveThis", { message: a.message })}>
                        {t("alerts.resolve")}
                      </Button>
                    )
                  )}
                </Table.Td>
              </Table.Tr>
            )}
          />
        )}
      </Loaded>
    </Stack>
  );
}
