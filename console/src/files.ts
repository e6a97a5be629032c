// Files the console writes for the reader to save: CSV, as the importer reads it.

/** A field as CSV writes it: quoted when it holds a comma, quote or line break. */
export function field(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const CSV_TYPE = "text/csv;charset=utf-8";

/** Lines as a CSV file holds them. */
function text(lines: string[]): string {
  return lines.map((line) => line + "\r\n").join("");
}

/** Offers `lines` to the browser as a CSV file to save. */
export function saveCsv(lines: string[], name: string) {
  download(new Blob([text(lines)], { type: CSV_TYPE }), name);
}

function download(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  // The browser has taken the file once the click is handled.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** A CSV file being written a batch of lines at a time. */
export interface CsvFile {
  write(lines: string[]): Promise<void>;
  /** Finishes the file: it is complete on disk, or offered for download. */
  close(): Promise<void>;
  /** Gives the file up: what was written is discarded. */
  abort(): Promise<void>;
}

/** The browser's save dialog, where it has one (the File System Access API). */
type SaveFilePicker = (options: {
  suggestedName: string;
  types: { description: string; accept: Record<string, string[]> }[];
}) => Promise<FileSystemFileHandle>;

function savePicker(): SaveFilePicker | undefined {
  const window = globalThis as { showSaveFilePicker?: SaveFilePicker };
  return window.showSaveFilePicker?.bind(globalThis);
}

/**
 * Opens a CSV file named `name` for an export. Where the browser can write files, the reader
 * chooses where and each batch goes to disk as it comes, so an export of any size takes no
 * memory; elsewhere the batches are kept (as a few large strings, not a string per line) and
 * offered as a download at the end. `null` when the reader cancelled the dialog. Call it first
 * in the click's handler: the dialog needs the click.
 */
export async function openCsv(name: string, picker = savePicker()): Promise<CsvFile | null> {
  if (picker) {
    let handle: FileSystemFileHandle;
    try {
      handle = await picker({ suggestedName: name, types: [{ description: "CSV", accept: { "text/csv": [".csv"] } }] });
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") return null;
      throw err;
    }
    const writable = await handle.createWritable();
    return {
      write: (lines) => writable.write(text(lines)),
      close: () => writable.close(),
      abort: () => writable.abort(),
    };
  }
  let parts: string[] = [];
  return {
    write: async (lines) => {
      parts.push(text(lines));
    },
    close: async () => download(new Blob(parts, { type: CSV_TYPE }), name),
    abort: async () => {
      parts = [];
    },
  };
}
