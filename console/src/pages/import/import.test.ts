import { describe, expect, it } from "vitest";
import { formatOf, rejectedName, rejectionLines } from "./import";

describe("the import screen", () => {
  it("reads the format from the file's name as the command does", () => {
    expect(formatOf("people.csv")).toBe("csv");
    expect(formatOf("people.JSONL")).toBe("jsonl");
    expect(formatOf("orders.ndjson")).toBe("jsonl");
    expect(formatOf("export")).toBe("csv");
  });

  it("writes the refused rows with their reasons, quoted where needed", () => {
    const summary = { created: 1, updated: 0, unchanged: 0, rejected: 2, dryRun: false, ignored: [], rejections: [
      { line: 3, reason: "email: not an email address" },
      { line: 5, reason: "created_at: not a time; phone: too short, 3 digits" },
    ] };
    expect(rejectionLines(summary)).toEqual(["line,reason", "3,email: not an email address", '5,"created_at: not a time; phone: too short, 3 digits"']);
    expect(rejectedName("people.csv")).toBe("people.rejected.csv");
    expect(rejectedName("people")).toBe("people.rejected.csv");
  });
});
