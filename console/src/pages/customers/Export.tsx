// Exporting customers: the ones a filter selects, streamed from the service a page at a time
// with the count so far, and saved as a CSV file the importer reads back. The reader can stop it.
import { Alert, Button, Group, NativeSelect, Stack, Text, TextInput, Title } from "@mantine/core";
import { useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { customers, describe } from "../../api/clients";
import { saveCsv } from "../../files";
import { count } from "../../format";
import { LifecycleStage, PartyKind } from "../../gen/crm/customers/v1/customers_pb";
import { CustomersNav } from "./CustomersNav";
import { headLine, partyLine } from "./export";

type State = { state: "idle" } | { state: "running"; rows: number } | { state: "done"; rows: number } | { state: "failed"; rows: number; message: string };

export function Export() {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const [kind, setKind] = useState(PartyKind.UNSPECIFIED);
  const [stage, setStage] = useState(LifecycleStage.UNSPECIFIED);
  const [tag, setTag] = useState("");
  const [tier, setTier] = useState("");
  const [run, setRun] = useState<State>({ state: "idle" });
  const abort = useRef<AbortController | null>(null);

  const start = async (event: FormEvent) => {
    event.preventDefault();
    const controller = new AbortController();
    abort.current = controller;
    const lines = [headLine()];
    setRun({ state: "running", rows: 0 });
    try {
      const pages = customers.exportParties({ kind, lifecycleStage: stage, tag: tag.trim(), tier: tier.trim() }, { signal: controller.signal });
      for await (const page of pages) {
        for (const party of page.parties) lines.push(partyLine(party));
        setRun({ state: "running", rows: lines.length - 1 });
      }
      saveCsv(lines, `customers-${new Date().toISOString().slice(0, 10)}.csv`);
      setRun({ state: "done", rows: lines.length - 1 });
    } catch (err) {
      setRun({ state: "failed", rows: lines.length - 1, message: controller.signal.aborted ? t("export.stopped") : describe(err) });
    } finally {
      abort.current = null;
    }
  };

  return (
    <Stack>
      <CustomersNav />
      <Title order={1}>{t("export.title")}</Title>
      <Text>{t("export.hint")}</Text>
      <form onSubmit={start} aria-label={t("export.title")}>
        <Group align="end">
          <NativeSelect
            label={t("export.kind")}
            value={String(kind)}
            onChange={(e) => setKind(Number(e.currentTarget.value))}
            data={[PartyKind.UNSPECIFIED, PartyKind.PERSON, PartyKind.ORGANIZATION].map((k) => ({ value: String(k), label: t(`export.kinds.${k}`) }))}
          />
          <NativeSelect
            label={t("customers.stage")}
            value={String(stage)}
            onChange={(e) => setStage(Number(e.currentTarget.value))}
            data={[0, 1, 2, 3, 4, 5].map((s) => ({ value: String(s), label: s ? t(`stages.${s}`) : t("export.any") }))}
          />
          <TextInput label={t("export.tag")} value={tag} onChange={(e) => setTag(e.currentTarget.value)} />
          <TextInput label={t("customers.tier")} value={tier} onChange={(e) => setTier(e.currentTarget.value)} />
          <Button type="submit" loading={run.state === "running"}>
            {t("export.start")}
          </Button>
          {run.state === "running" && (
            <Button variant="default" onClick={() => abort.current?.abort()}>
              {t("export.stop")}
            </Button>
          )}
        </Group>
      </form>
      <div role="status" aria-live="polite">
        {run.state === "running" && <Text>{t("export.running", { rows: count(run.rows, locale) })}</Text>}
        {run.state === "done" && <Text>{t("export.done", { rows: count(run.rows, locale) })}</Text>}
      </div>
      {run.state === "failed" && (
        <Alert color="red" role="alert">
          {t("export.failed", { rows: count(run.rows, locale), message: run.message })}
        </Alert>
      )}
    </Stack>
  );
}
