// Sales reports for a scope of the organisation (everyone, a team, a rep): the funnel, the
// forecast by month, the win rate, and quota attainment against the period's pace. The service
// narrows every figure to what the reader may see (a rep their own deals).
import { Badge, Group, NativeSelect, SimpleGrid, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { pipeline, salesOrg, salesReports } from "../../api/clients";
import type { ChartOption } from "../../charts/echarts";
import { Chart } from "../../components/Chart";
import { Loaded, useCall } from "../../components/Loaded";
import { Section } from "../../components/Section";
import { count, money, share } from "../../format";
import type { Money } from "../../gen/crm/common/v1/money_pb";
import { QuotaOwnerKind, type GetOrganizationResponse } from "../../gen/crm/sales/v1/org_pb";
import type { ReportScopeSchema } from "../../gen/crm/sales/v1/reports_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { behindPace, funnelSteps, ownerName } from "./reports";
import { SalesNav } from "./SalesNav";
import { Facts, TableHead } from "../../components/TableParts";
import { isPeriod, PeriodInput, quarterOf } from "../../components/PeriodInput";

/** Colours with 4.5:1 against white. */
const PIPELINE = "#1864ab";
const WEIGHTED = "#087f5b";
const PACE = "#5c3d00";

type Span = "90d" | "year" | "all";

/** The bounds of a span ending now: unset bounds are open. */
function bounds(span: Span) {
  const now = new Date();
  if (span === "all") return {};
  const from = span === "90d" ? new Date(now.getTime() - 90 * 86_400_000) : new Date(now.getFullYear(), 0, 1);
  return { from: timestampFromDate(from) };
}

export function Reports() {
  const { t } = useTranslation();
  const [team, setTeam] = useState("");
  const [owner, setOwner] = useState("");
  const [currency, setCurrency] = useState("USD");
  const [span, setSpan] = useState<Span>("year");
  const [org] = useCall(() => salesOrg.getOrganization({}), []);
  const known = org.state === "done" ? org.value : undefined;
  const scope: MessageInitShape<typeof ReportScopeSchema> = { teamId: team, ownerId: owner, currencyCode: currency.length === 3 ? currency : "" };
  const key = [team, owner, scope.currencyCode, span];

  return (
    <Stack>
      <SalesNav />
      <Title order={1}>{t("reports.title")}</Title>
      <Group align="end">
        <NativeSelect
          label={t("reports.team")}
          value={team}
          onChange={(e) => setTeam(e.currentTarget.value)}
          data={[{ value: "", label: t("reports.everyone") }, ...(known?.teams ?? []).map((x) => ({ value: x.id, label: x.name }))]}
        />
        <NativeSelect
          label={t("reports.rep")}
          value={owner}
          onChange={(e) => setOwner(e.currentTarget.value)}
          data={[
            { value: "", label: t("reports.everyone") },
            ...(known?.reps ?? []).filter((r) => !team || r.teamId === team).map((r) => ({ value: r.userId, label: r.displayName || r.userId })),
          ]}
        />
        <NativeSelect
          label={t("reports.span")}
          value={span}
          onChange={(e) => setSpan(e.currentTarget.value as Span)}
          data={(["90d", "year", "all"] as const).map((s) => ({ value: s, label: t(`reports.spans.${s}`) }))}
        />
        <TextInput label={t("reports.currency")} value={currency} maxLength={3} w={90} onChange={(e) => setCurrency(e.currentTarget.value.toUpperCase())} />
      </Group>
      <Funnel scope={scope} span={span} deps={key} />
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Forecast scope={scope} deps={key} />
        <WinRate scope={scope} span={span} deps={key} />
      </SimpleGrid>
      <Attainment org={known} />
    </Stack>
  );
}

function useAmount() {
  const { i18n } = useTranslation();
  return (m?: Money) => (m ? money(m.amountMinor, m.currencyCode, i18n.language) : "—");
}

function Funnel({ scope, span, deps }: { scope: MessageInitShape<typeof ReportScopeSchema>; span: Span; deps: unknown[] }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const amount = useAmount();
  const [call, retry] = useCall(async () => {
    const [funnel, stages] = await Promise.all([salesReports.getFunnel({ scope, ...bounds(span) }), pipeline.getPipeline({})]);
    return { rows: funnel.stages, steps: funnelSteps(funnel.stages, stages.stages), stages: stages.stages };
  }, deps);
  return (
    <Section title={t("reports.funnel")}>
      <Loaded call={call} retry={retry}>
        {({ rows, steps, stages }) => (
          <Stack>
            <Chart
              label={t("reports.funnelLabel")}
              height={260}
              option={{
                tooltip: {},
                series: [
                  {
                    type: "funnel",
                    sort: "none",
                    minSize: "8%",
                    label: { show: true, position: "inside", color: "#fff", formatter: "{b}: {c}" },
                    itemStyle: { color: PIPELINE, borderColor: "#fff" },
                    data: steps.map((s) => ({ name: s.name, value: s.reached })),
                  },
                ],
              }}
            />
            <Table>
              <TableHead heads={["reports.stage", "reports.now", "reports.amount", "reports.reached", "reports.conversion", "reports.daysInStage"].map((h) => t(h))} />
              <Table.Tbody>
                {rows.map((r) => (
                  <Table.Tr key={r.stageCode}>
                    <Table.Th scope="row">{stages.find((s) => s.code === r.stageCode)?.name ?? r.stageCode}</Table.Th>
                    <Table.Td>{count(r.count, locale)}</Table.Td>
                    <Table.Td>{amount(r.amount)}</Table.Td>
                    <Table.Td>{count(r.reached, locale)}</Table.Td>
                    <Table.Td>{r.conversionToNextBps ? share(r.conversionToNextBps, locale) : "—"}</Table.Td>
                    <Table.Td>{count(Math.round(Number(r.averageSecondsInStage) / 86_400), locale)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Stack>
        )}
      </Loaded>
    </Section>
  );
}

function Forecast({ scope, deps }: { scope: MessageInitShape<typeof ReportScopeSchema>; deps: unknown[] }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const amount = useAmount();
  const [call, retry] = useCall(() => salesReports.getForecast({ scope }), deps);
  return (
    <Section title={t("reports.forecast")}>
      <Loaded call={call} retry={retry}>
        {({ months }) =>
          months.length === 0 ? (
            <Text>{t("reports.noOpenDeals")}</Text>
          ) : (
            <Stack>
              <Chart
                label={t("reports.forecastLabel")}
                height={240}
                option={{
                  tooltip: { trigger: "axis" },
                  // The legend above the plot, clear of the axis labels below it.
                  legend: { top: 0, data: [t("reports.pipeline"), t("reports.weighted")] },
                  grid: { left: 80, right: 16, top: 36, bottom: 32 },
                  xAxis: { type: "category", data: months.map((m) => m.month) },
                  yAxis: {
                    type: "value",
                    axisLabel: { formatter: (v: number) => money(v, months[0].pipeline?.currencyCode ?? "", locale) },
                  },
                  series: [
                    { name: t("reports.pipeline"), type: "bar", itemStyle: { color: PIPELINE }, data: months.map((m) => Number(m.pipeline?.amountMinor ?? 0n)) },
                    { name: t("reports.weighted"), type: "bar", itemStyle: { color: WEIGHTED }, data: months.map((m) => Number(m.weighted?.amountMinor ?? 0n)) },
                  ],
                }}
              />
              <Table>
                <TableHead heads={["reports.month", "reports.deals", "reports.pipeline", "reports.weighted"].map((h) => t(h))} />
                <Table.Tbody>
                  {months.map((m) => (
                    <Table.Tr key={m.month}>
                      <Table.Th scope="row">{m.month}</Table.Th>
                      <Table.Td>{count(m.count, locale)}</Table.Td>
                      <Table.Td>{amount(m.pipeline)}</Table.Td>
                      <Table.Td>{amount(m.weighted)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Stack>
          )
        }
      </Loaded>
    </Section>
  );
}

function WinRate({ scope, span, deps }: { scope: MessageInitShape<typeof ReportScopeSchema>; span: Span; deps: unknown[] }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const amount = useAmount();
  const [call, retry] = useCall(() => salesReports.getWinRate({ scope, ...bounds(span) }), deps);
  return (
    <Section title={t("reports.winRate")}>
      <Loaded call={call} retry={retry}>
        {(w) => (
          <Facts
            rows={[
              [t("reports.winRate"), share(w.winRateBps, locale)],
              [t("reports.won"), count(w.won, locale)],
              [t("reports.lost"), count(w.lost, locale)],
              [t("reports.wonAmount"), amount(w.wonAmount)],
              [t("reports.cycle"), t("reports.days", { n: count(w.averageCycleDays, locale) })],
            ]}
          />
        )}
      </Loaded>
    </Section>
  );
}


const KINDS = [QuotaOwnerKind.UNSPECIFIED, QuotaOwnerKind.REP, QuotaOwnerKind.TEAM, QuotaOwnerKind.DEPARTMENT];

function Attainment({ org }: { org?: GetOrganizationResponse }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const amount = useAmount();
  const [period, setPeriod] = useState(() => quarterOf(new Date()));
  const [kind, setKind] = useState(QuotaOwnerKind.UNSPECIFIED);
  const valid = isPeriod(period);
  const [call, retry] = useCall(
    async () => (valid ? (await salesReports.getQuotaAttainment({ period, ownerKind: kind })).rows : []),
    [period, kind, valid],
  );
  const named = (row: { quota?: { ownerKind: QuotaOwnerKind; ownerId: string; productLine: string } }) => {
    const q = row.quota;
    if (!q) return "";
    const name = ownerName(q.ownerKind, q.ownerId, org);
    return q.productLine ? `${name} · ${q.productLine}` : name;
  };
  return (
    <Section title={t("reports.attainment")}>
      <Group align="end" mb="sm">
        <PeriodInput value={period} onChange={setPeriod} />
        <NativeSelect
          label={t("reports.ownerKind")}
          value={String(kind)}
          onChange={(e) => setKind(Number(e.currentTarget.value))}
          data={KINDS.map((k) => ({ value: String(k), label: t(`reports.ownerKinds.${k}`) }))}
        />
      </Group>
      <Loaded call={call} retry={retry}>
        {(rows) =>
          rows.length === 0 ? (
            <Text>{t("reports.noQuotas")}</Text>
          ) : (
            <Stack>
              <AttainmentChart rows={rows.map((r) => ({ name: named(r), attained: r.attainmentBps / 100, pace: r.expectedBps / 100 }))} />
              <Table>
                <TableHead heads={["reports.owner", "reports.ownerKind", "reports.quota", "reports.attained", "reports.attainmentShare", "reports.pace"].map((h) => t(h))} />
                <Table.Tbody>
                  {rows.map((r) => (
                    <Table.Tr key={`${r.quota?.ownerKind}/${r.quota?.ownerId}/${r.quota?.productLine}`}>
                      <Table.Th scope="row">{named(r)}</Table.Th>
                      <Table.Td>{t(`reports.ownerKinds.${r.quota?.ownerKind ?? 0}`)}</Table.Td>
                      <Table.Td>{amount(r.quota?.amount)}</Table.Td>
                      <Table.Td>{amount(r.attained)}</Table.Td>
                      <Table.Td>
                        {share(r.attainmentBps, locale)}{" "}
                        {behindPace(r) && (
                          <Badge color="red.9" size="sm">
                            {t("reports.behind")}
                          </Badge>
                        )}
                      </Table.Td>
                      <Table.Td>{share(r.expectedBps, locale)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Stack>
          )
        }
      </Loaded>
    </Section>
  );
}

function AttainmentChart({ rows }: { rows: { name: string; attained: number; pace: number }[] }) {
  const { t } = useTranslation();
  const option = useMemo(
    (): ChartOption => ({
      tooltip: { trigger: "axis", valueFormatter: (v) => `${Number(v).toFixed(1)}%` },
      legend: { top: 0, data: [t("reports.attainmentShare"), t("reports.pace")] },
      grid: { left: 140, right: 24, top: 36, bottom: 24 },
      yAxis: { type: "category", data: rows.map((r) => r.name), inverse: true },
      xAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: [
        { name: t("reports.attainmentShare"), type: "bar", itemStyle: { color: PIPELINE }, data: rows.map((r) => r.attained) },
        { name: t("reports.pace"), type: "bar", itemStyle: { color: PACE }, data: rows.map((r) => r.pace) },
      ],
    }),
    [rows, t],
  );
  return <Chart option={option} label={t("reports.attainmentLabel")} height={Math.max(160, rows.length * 48 + 60)} />;
}
