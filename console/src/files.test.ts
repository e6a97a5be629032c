import { describe, expect, it } from "vitest";
import { field } from "./files";

describe("CSV fields", () => {
  it("quotes only what needs quoting", () => {
    expect(field("Lin")).toBe("Lin");
    expect(field("Lin, Mei")).toBe('"Lin, Mei"');
    expect(field('say "hi"')).toBe('"say ""hi"""');
    expect(field("two\nlines")).toBe('"two\nlines"');
  });
});
