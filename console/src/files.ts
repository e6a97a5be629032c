// Files the console writes for the reader to save: CSV, as the importer reads it.

/** A field as CSV writes it: quoted when it holds a comma, quote or line break. */
export function field(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Offers `lines` to the browser as a CSV file to save. */
export function saveCsv(lines: string[], name: string) {
  const url = URL.createObjectURL(new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  // The browser has taken the file once the click is handled.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
