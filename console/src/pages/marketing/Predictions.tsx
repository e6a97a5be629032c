// Predictions from the customers' purchase histories (BG/NBD for whether a customer is still
// buying, Gamma-Gamma for what they spend): the latest model fit and its progress, fitting again,
// the customers at risk of churning, and the key customers by predicted lifetime value.
import { Alert, Button, Group, NativeSelect, Progress, Stack, Table, Text, Title } from "@mantine/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { isNotFound, predictions } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Failure } from "../../components/Failure";
import { Listing } from "../../components/Listing";
import { Loaded, useCall } from "../../components/Loaded";
import { PartyName } from "../../components/PartyName";
import { Section } from "../../components/Section";
import { useAction } from "../../components/useAction";
import { count, dateTime, money, share } from "../../format";
import { FitJobState, type FitModelsResponse, type Prediction } from "../../gen/crm/marketing/v1/predictions_pb";
import { MarketingNav } from "./MarketingNav";

/** How often a running fit is read again. */
const WATCH_MS = 2_000;

export function Predictions() {
  const { t } = useTranslation();
  // Lists are read again when a fit ends, as its scores replace theirs.
  const [fitted, setFitted] = useState(0);
  return (
    <Stack>
      <MarketingNav />
      <Title order={1}>{t("predictions.title")}</Title>
      <Model onFitted={() => setFitted((n) => n + 1)} />
      <ChurnRisks fitted={fitted} />
      <KeyCustomers fitted={fitted} />
    </Stack>
  );
}

function Model({ onFitted }: { onFitted: () => void }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const [running, setRunning] = useState(false);
  const [call, retry] = useCall(
    async (): Promise<FitModelsResponse | null> => {
      try {
        const { result } = await predictions.getFitJob({});
        const still = result?.job?.state === FitJobState.RUNNING;
        if (running && !still) onFitted();
        setRunning(still);
        return result ?? null;
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },
    [],
    running ? WATCH_MS : undefined,
  );
  const [action, run] = useAction();
  const fit = async () => {
    if (await run(() => predictions.fitModels({}))) {
      setRunning(true);
      retry();
    }
  };
  return (
    <Section title={t("predictions.model")}>
      <Loaded call={call} retry={retry}>
        {(result) => {
          const job = result?.job;
          if (!job) return <Text>{t("predictions.neverFitted")}</Text>;
          const scored = job.customers > 0n ? Number((job.customersScored * 100n) / job.customers) : 0;
          return (
            <Stack gap="xs">
              <Text role="status">
                {t(`predictions.states.${job.state}`, {
                  asOf: job.asOf,
                  time: job.endTime ? dateTime(timestampDate(job.endTime), locale) : "",
                  customers: count(job.customers, locale),
                })}
              </Text>
              {job.state === FitJobState.RUNNING && <Progress value={scored} aria-label={t("predictions.progress", { scored: count(job.customersScored, locale), customers: count(job.customers, locale) })} />}
              {job.state === FitJobState.FAILED && (
                <Alert color="red" role="alert">
                  {job.error}
                </Alert>
              )}
              {result.bgNbd && job.state === FitJobState.SUCCEEDED && (
                <Text size="sm">
                  {t("predictions.parameters", {
                    r: result.bgNbd.r.toFixed(3),
                    alpha: result.bgNbd.alpha.toFixed(3),
                    a: result.bgNbd.a.toFixed(3),
                    b: result.bgNbd.b.toFixed(3),
                  })}
                </Text>
              )}
            </Stack>
          );
        }}
      </Loaded>
      {can(session.identity(), "marketing.act") && (
        <Group mt="sm">
          <Failure action={action} />
          <Button onClick={() => void fit()} loading={action.busy} disabled={running}>
            {t("predictions.fit")}
          </Button>
        </Group>
      )}
    </Section>
  );
}

const THRESHOLDS = [1000, 3000, 5000];

function ChurnRisks({ fitted }: { fitted: number }) {
  const { t, i18n } = useTranslation();
  const [threshold, setThreshold] = useState(3000);
  const [call, retry] = useCall(() => predictions.listChurnRisks({ thresholdBps: threshold, limit: 100 }), [threshold, fitted]);
  return (
    <Section title={t("predictions.churn")}>
      <NativeSelect
        label={t("predictions.threshold")}
        value={String(threshold)}
        w={260}
        mb="sm"
        onChange={(e) => setThreshold(Number(e.currentTarget.value))}
        data={THRESHOLDS.map((bps) => ({ value: String(bps), label: t("predictions.under", { share: share(bps, i18n.language) }) }))}
      />
      <Loaded call={call} retry={retry}>
        {(found) => <Scores items={found.predictions} none={t("predictions.noRisk")} />}
      </Loaded>
    </Section>
  );
}

function KeyCustomers({ fitted }: { fitted: number }) {
  const { t } = useTranslation();
  const [call, retry] = useCall(() => predictions.listKeyCustomers({ limit: 20, horizonWeeks: 52 }), [fitted]);
  return (
    <Section title={t("predictions.key")}>
      <Loaded call={call} retry={retry}>
        {(found) => <Scores items={found.predictions} none={t("predictions.noKey")} />}
      </Loaded>
    </Section>
  );
}

function Scores({ items, none }: { items: Prediction[]; none: string }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const amount = (m?: { amountMinor: bigint; currencyCode: string }) => (m ? money(m.amountMinor, m.currencyCode, locale) : "—");
  return (
    <Listing
      items={items}
      none={none}
      head={[t("customers.name"), t("predictions.alive"), t("predictions.purchases"), t("predictions.spend"), t("predictions.ltv")]}
      row={(p) => (
        <Table.Tr key={p.partyId}>
          <Table.Td>
            <PartyName id={p.partyId} />
          </Table.Td>
          <Table.Td>{share(Number(p.probabilityAliveBps), locale)}</Table.Td>
          <Table.Td>{p.expectedPurchases.toFixed(1)}</Table.Td>
          <Table.Td>{amount(p.expectedSpend)}</Table.Td>
          <Table.Td>{amount(p.lifetimeValue)}</Table.Td>
        </Table.Tr>
      )}
    />
  );
}
