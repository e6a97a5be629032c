// The rules of the import screen that need no browser: the format a file name suggests, and the
// refused rows as a file to correct.
import { field } from "../../files";
import type { ImportSummary } from "../../api/upload";

/** The format a file's name suggests (`.jsonl`, `.ndjson` and `.json` are JSON lines), as
 * `crm import` decides. */
export function formatOf(name: string): "csv" | "jsonl" {
  return /\.(jsonl|ndjson|json)$/i.test(name) ? "jsonl" : "csv";
}

/** The refused rows as CSV lines: each line of the file with its reasons. */
export function rejectionLines(summary: ImportSummary): string[] {
  return ["line,reason", ...summary.rejections.map((r) => `${r.line},${field(r.reason)}`)];
}

/** `people.csv` -> `people.rejected.csv`, as `crm import` names the file beside its input. */
export function rejectedName(name: string): string {
  const stem = name.replace(/\.[^.]*$/, "") || "import";
  return `${stem}.rejected.csv`;
}
