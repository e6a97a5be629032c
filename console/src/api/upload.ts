// Imports uploaded to the gateway (`POST /console/import`): a browser cannot stream a gRPC
// call, so the file goes up as the body of one request with the user's token, and the gateway
// streams its rows to the owning service. The request reports how much has been sent.
import { session } from "../auth/session";

/** What an import did. */
export interface ImportSummary {
  created: number;
  updated: number;
  unchanged: number;
  /** Rows refused, by the gateway's reader or the service. */
  rejected: number;
  /** Whether nothing was stored (a check of the file). */
  dryRun: boolean;
  /** Columns the importer does not know, left out. */
  ignored: string[];
  /** Refused rows (up to a thousand) by line, with their reasons ("column: why; ..."). */
  rejections: { line: number; reason: string }[];
}

/** What to import and how. */
export interface ImportRequest {
  entity: string;
  /** The system the records come from: imports are idempotent per source and external id. */
  source: string;
  dryRun: boolean;
  format: "csv" | "jsonl";
}

/** The import as a whole was refused: a gRPC code's name and the reason. */
export class ImportRefused extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Bytes of the file sent so far, of all of them. */
export type Sent = { sent: number; total: number };

/** Uploads `file` to be imported; `onSent` follows the upload; `signal` stops it. */
export function uploadImport(file: Blob, request: ImportRequest, onSent: (sent: Sent) => void, signal: AbortSignal): Promise<ImportSummary> {
  const query = new URLSearchParams({ entity: request.entity, source: request.source, dry_run: String(request.dryRun), format: request.format });
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/console/import?${query}`);
    const token = session.token();
    if (token) xhr.setRequestHeader("authorization", `Bearer ${token}`);
    xhr.setRequestHeader("content-type", request.format === "csv" ? "text/csv" : "application/x-ndjson");
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => onSent({ sent: e.loaded, total: e.lengthComputable ? e.total : file.size });
    xhr.onload = () => {
      const body = xhr.response as ImportSummary | { error?: { code: string; message: string } } | null;
      if (xhr.status === 200 && body && !("error" in body)) return resolve(body as ImportSummary);
      const error = body && "error" in body ? body.error : undefined;
      if (xhr.status === 401) session.expired();
      reject(new ImportRefused(error?.message ?? `HTTP ${xhr.status}`, error?.code ?? "UNKNOWN"));
    };
    xhr.onerror = () => reject(new ImportRefused("the upload did not reach the suite", "UNAVAILABLE"));
    xhr.onabort = () => reject(new ImportRefused("stopped", "CANCELLED"));
    signal.addEventListener("abort", () => xhr.abort());
    xhr.send(file);
  });
}

/** Each importable entity and its columns, as the gateway's importer reads them. */
export async function importColumns(): Promise<{ entity: string; columns: string[] }[]> {
  const response = await fetch("/console/import-columns.json");
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return (await response.json()) as { entity: string; columns: string[] }[];
}
