// Exporting customers: the ones a filter selects, streamed from the service a page at a time
// with the count so far, and written as a CSV file the importer reads back (to the file the
// reader chose as pages arrive, where the browser can). The reader can stop it.
import { Alert, Button, Group, NativeSelect, Stack, Text, TextInput, Title } from "@mantine/core";
import { useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { customers, describe } from "../../api/clients";
import { openCsv, type CsvFile } from "../../files";
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
    // The save dialog first, while the click still counts as the reader's.
    let file: CsvFile | null;
    try {
      file = await openCsv(`customers-${new Date().toISOString().slice(0, 10)}.csv`);
    } catch (err) {
      setRun({ state: "failed", rows: 0, message: describe(err) });
      return;
    }
    if (!file) return;
    const controller = new AbortController();
    abort.current = controller;
    let rows = 0;
    setRun({ state: "running", rows });
    try {
      await file.write([headLine()]);
      const pages = customers.exportParties({ kind, lifecycleStage: stage, tag: tag.trim(), tier: tier.trim() }, { signal: controller.signal });
      for await (const page of pages) {
        await file.write(page.parties.map(partyLine));
        rows += page.parties.length;
        setRun({ state: "running", rows });
      }
      await file.close();
      setRun({ state: "done", rows });
    } catch (err) {
      await file.abort().catch(() => undefined);
      setRun({ state: "failed", rows, message: controller.signal.aborted ? t("export.stopped") : describe(err) });
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
