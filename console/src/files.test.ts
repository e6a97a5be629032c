import { describe, expect, it } from "vitest";
import { field, openCsv } from "./files";

describe("CSV fields", () => {
  it("quotes only what needs quoting", () => {
    expect(field("Lin")).toBe("Lin");
    expect(field("Lin, Mei")).toBe('"Lin, Mei"');
    expect(field('say "hi"')).toBe('"say ""hi"""');
    expect(field("two\nlines")).toBe('"two\nlines"');
  });
});

describe("CSV files", () => {
  /** A save dialog that hands out an in-memory file, or `cancel`s. */
  function dialog(cancel = false) {
    const written: string[] = [];
    const state = { closed: false, aborted: false, name: "" };
    const picker = async ({ suggestedName }: { suggestedName: string }) => {
      if (cancel) throw new DOMException("The user aborted a request.", "AbortError");
      state.name = suggestedName;
      return {
        createWritable: async () => ({
          write: async (chunk: string) => void written.push(chunk),
          close: async () => void (state.closed = true),
          abort: async () => void (state.aborted = true),
        }),
      } as unknown as FileSystemFileHandle;
    };
    return { picker, written, state };
  }

  it("writes each batch to the chosen file as it comes", async () => {
    const { picker, written, state } = dialog();
    const file = await openCsv("customers.csv", picker);
    await file!.write(["a,b"]);
    await file!.write(["1,2", "3,4"]);
    expect(written).toEqual(["a,b\r\n", "1,2\r\n3,4\r\n"]);
    await file!.close();
    expect(state).toEqual({ closed: true, aborted: false, name: "customers.csv" });
  });

  it("gives the file up when the export stops", async () => {
    const { picker, state } = dialog();
    const file = await openCsv("customers.csv", picker);
    await file!.abort();
    expect(state.aborted).toBe(true);
  });

  it("is nothing when the reader cancels the dialog", async () => {
    expect(await openCsv("customers.csv", dialog(true).picker)).toBeNull();
  });
});
