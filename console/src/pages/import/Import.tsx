// Importing a file from the browser: what it holds, from which system, checked only or stored.
// The file goes up as it is read (the gateway streams its rows to the owning service), with how
// much has been sent; the summary follows, with each refused row's line and reasons, which the
// reader can save as a file to correct and import again.
import { Alert, Button, Checkbox, Code, Group, NativeSelect, Progress, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { importColumns, uploadImport, type ImportSummary, type Sent } from "../../api/upload";
import { Section } from "../../components/Section";
import { TableHead } from "../../components/TableParts";
import { saveCsv } from "../../files";
import { count } from "../../format";
import { formatOf, rejectedName, rejectionLines } from "./import";

/** The entities in the order the importer lists them (their columns come from the gateway). */
const ENTITIES = ["parties", "relationships", "orders", "partners", "targets", "cases", "articles", "consents", "products", "leads", "opportunities", "activities"] as const;

type Run =
  | { state: "idle" }
  | { state: "sending"; sent: Sent }
  | { state: "done"; summary: ImportSummary; file: string }
  | { state: "failed"; message: string };

export function Import() {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const fileId = useId();
  const [entity, setEntity] = useState<string>("parties");
  const [source, setSource] = useState("import");
  const [dryRun, setDryRun] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const [columns, setColumns] = useState<Map<string, string[]>>(new Map());
  const [run, setRun] = useState<Run>({ state: "idle" });
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    // The columns are a hint: the import works without them.
    importColumns().then(
      (listed) => setColumns(new Map(listed.map((e) => [e.entity, e.columns]))),
      () => undefined,
    );
  }, []);

  const start = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    const controller = new AbortController();
    abort.current = controller;
    setRun({ state: "sending", sent: { sent: 0, total: file.size } });
    try {
      const summary = await uploadImport(
        file,
        { entity, source: source.trim() || "import", dryRun, format: formatOf(file.name) },
        (sent) => setRun({ state: "sending", sent }),
        controller.signal,
      );
      setRun({ state: "done", summary, file: file.name });
    } catch (err) {
      setRun({ state: "failed", message: controller.signal.aborted ? t("import.stopped") : (err as Error).message });
    } finally {
      abort.current = null;
    }
  };

  const known = columns.get(entity);
  return (
    <Stack>
      <Title order={1}>{t("import.title")}</Title>
      <Text>{t("import.hint")}</Text>
      <form onSubmit={start} aria-label={t("import.title")}>
        <Stack>
          <Group align="end">
            <NativeSelect
              label={t("import.entity")}
              value={entity}
              onChange={(e) => setEntity(e.currentTarget.value)}
              data={ENTITIES.map((e) => ({ value: e, label: t(`import.entities.${e}`) }))}
            />
            <TextInput label={t("import.source")} description={t("import.sourceHint")} value={source} onChange={(e) => setSource(e.currentTarget.value)} />
          </Group>
          {known && (
            <Text size="sm">
              {t("import.columns")} <Code>{known.join(", ")}</Code>
            </Text>
          )}
          <Stack gap={4}>
            <Text component="label" htmlFor={fileId} size="sm" fw={500}>
              {t("import.file")}
            </Text>
            <input id={fileId} type="file" accept=".csv,.jsonl,.ndjson,.json,text/csv" required onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
          </Stack>
          <Checkbox label={t("import.dryRun")} checked={dryRun} onChange={(e) => setDryRun(e.currentTarget.checked)} />
          <Group>
            <Button type="submit" loading={run.state === "sending"} disabled={!file}>
              {dryRun ? t("import.check") : t("import.start")}
            </Button>
            {run.state === "sending" && (
              <Button variant="default" onClick={() => abort.current?.abort()}>
                {t("import.stop")}
              </Button>
            )}
          </Group>
        </Stack>
      </form>
      {run.state === "sending" && (
        <Stack gap={4}>
          <Progress value={run.sent.total ? (100 * run.sent.sent) / run.sent.total : 0} aria-label={t("import.sending")} />
          <Text size="sm">{t("import.sent", { sent: count(run.sent.sent, locale), total: count(run.sent.total, locale) })}</Text>
        </Stack>
      )}
      <div role="status" aria-live="polite">
        {run.state === "done" && (
          <Text>
            {t(run.summary.dryRun ? "import.checked" : "import.done", {
              created: count(run.summary.created, locale),
              updated: count(run.summary.updated, locale),
              unchanged: count(run.summary.unchanged, locale),
              rejected: count(run.summary.rejected, locale),
            })}
          </Text>
        )}
      </div>
      {run.state === "done" && run.summary.ignored.length > 0 && (
        <Alert variant="outline" color="dark" title={t("import.ignoredTitle")}>
          {t("import.ignored", { columns: run.summary.ignored.join(", ") })}
        </Alert>
      )}
      {run.state === "done" && run.summary.rejections.length > 0 && <Rejections summary={run.summary} file={run.file} />}
      {run.state === "failed" && (
        <Alert color="red" role="alert">
          {t("import.failed", { message: run.message })}
        </Alert>
      )}
    </Stack>
  );
}

function Rejections({ summary, file }: { summary: ImportSummary; file: string }) {
  const { t, i18n } = useTranslation();
  return (
    <Section title={t("import.rejected")}>
      <Stack>
        {summary.rejected > summary.rejections.length && (
          <Text size="sm">{t("import.firstListed", { listed: count(summary.rejections.length, i18n.language), all: count(summary.rejected, i18n.language) })}</Text>
        )}
        <Table>
          <TableHead heads={[t("import.line"), t("import.reason")]} />
          <Table.Tbody>
            {summary.rejections.map((r) => (
              <Table.Tr key={r.line}>
                <Table.Td>{r.line}</Table.Td>
                <Table.Td>{r.reason}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Group>
          <Button variant="default" onClick={() => saveCsv(rejectionLines(summary), rejectedName(file))}>
            {t("import.save")}
          </Button>
        </Group>
      </Stack>
    </Section>
  );
}
