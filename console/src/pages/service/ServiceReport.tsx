// The service report for a period (cases opened in it) and a queue: volumes, SLA compliance,
// mean times, satisfaction, cases by channel and type, the open backlog by age, and each
// agent's workload. The figures are computed by the service desk in SQL.
import { Group, NativeSelect, SimpleGrid, Stack, Table, Title } from "@mantine/core";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { servicedesk } from "../../api/clients";
import type { ChartOption } from "../../charts/echarts";
import { Chart } from "../../components/Chart";
import { Figure } from "../../components/Figure";
import { Listing } from "../../components/Listing";
import { isPeriod, PeriodInput, quarterOf } from "../../components/PeriodInput";
import { Loaded, useCall } from "../../components/Loaded";
import { Section } from "../../components/Section";
import { count, share } from "../../format";
import type { CountRow, GetServiceReportResponse } from "../../gen/crm/servicedesk/v1/servicedesk_pb";
import { ServiceNav } from "./ServiceNav";

const BAR = "#1864ab";

export function ServiceReport() {
  const { t } = useTranslation();
  const [period, setPeriod] = useState(() => quarterOf(new Date()));
  const [queueId, setQueueId] = useState("");
  const valid = isPeriod(period);
  const [queues] = useCall(() => servicedesk.listQueues({ pageSize: 500 }), []);
  const [call, retry] = useCall(
    async () => (valid ? servicedesk.getServiceReport({ period, queueId }) : null),
    [period, queueId, valid],
  );
  return (
    <Stack>
      <ServiceNav />
      <Title order={1}>{t("serviceReport.title")}</Title>
      <Group align="end">
        <PeriodInput value={period} onChange={setPeriod} />
        <Loaded call={queues}>
          {(found) => (
            <NativeSelect
              label={t("cases.queue")}
              value={queueId}
              onChange={(e) => setQueueId(e.currentTarget.value)}
              data={[{ value: "", label: t("cases.allQueues") }, ...found.queues.map((q) => ({ value: q.id, label: q.name }))]}
            />
          )}
        </Loaded>
      </Group>
      <Loaded call={call} retry={retry}>
        {(report) => report && <Figures report={report} />}
      </Loaded>
    </Stack>
  );
}

function Figures({ report }: { report: GetServiceReportResponse }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const n = (v: bigint | number) => count(v, locale);
  return (
    <Stack>
      <SimpleGrid cols={{ base: 2, md: 4 }}>
        <Figure label={t("serviceReport.opened")} value={n(report.opened)} />
        <Figure label={t("serviceReport.resolved")} value={n(report.resolved)} />
        <Figure label={t("serviceReport.responseCompliance")} value={share(report.responseComplianceBps, locale)} />
        <Figure label={t("serviceReport.resolutionCompliance")} value={share(report.resolutionComplianceBps, locale)} />
        <Figure label={t("serviceReport.meanResponse")} value={t("serviceReport.minutes", { n: n(report.meanResponseMinutes) })} />
        <Figure label={t("serviceReport.meanResolution")} value={t("serviceReport.minutes", { n: n(report.meanResolutionMinutes) })} />
        <Figure
          label={t("serviceReport.satisfaction")}
          value={report.rated > 0n ? t("serviceReport.rating", { mean: (report.meanSatisfactionX100 / 100).toFixed(2), rated: n(report.rated) }) : "—"}
        />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <Counts title={t("serviceReport.byChannel")} rows={report.byChannel} />
        <Counts title={t("serviceReport.byType")} rows={report.byType} />
        <Counts title={t("serviceReport.backlog")} rows={report.backlogAgeing} />
      </SimpleGrid>
      <Section title={t("serviceReport.workload")}>
        <Listing
          items={report.workload}
          head={[t("serviceReport.agent"), t("serviceReport.openNow"), t("serviceReport.resolvedInPeriod")]}
          row={(w) => (
            <Table.Tr key={w.agentId}>
              <Table.Th scope="row">{w.agentId}</Table.Th>
              <Table.Td>{n(w.openCases)}</Table.Td>
              <Table.Td>{n(w.resolvedCases)}</Table.Td>
            </Table.Tr>
          )}
        />
      </Section>
    </Stack>
  );
}


/** Counts by a key, as bars and as a table. */
function Counts({ title, rows }: { title: string; rows: CountRow[] }) {
  const { t, i18n } = useTranslation();
  const option = useMemo(
    (): ChartOption => ({
      tooltip: {},
      grid: { left: 40, right: 8, top: 8, bottom: 24 },
      xAxis: { type: "category", data: rows.map((r) => r.key) },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", itemStyle: { color: BAR }, data: rows.map((r) => Number(r.count)) }],
    }),
    [rows],
  );
  return (
    <Section title={title}>
      {rows.length > 0 && <Chart option={option} label={t("serviceReport.chartLabel", { title })} height={180} />}
      <Listing
        items={rows}
        row={(r) => (
          <Table.Tr key={r.key}>
            <Table.Th scope="row">{r.key}</Table.Th>
            <Table.Td>{count(r.count, i18n.language)}</Table.Td>
          </Table.Tr>
        )}
      />
    </Section>
  );
}
