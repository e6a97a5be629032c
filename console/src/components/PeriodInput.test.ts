import { describe, expect, it } from "vitest";
import { isPeriod, quarterOf } from "./PeriodInput";

describe("isPeriod", () => {
  it("takes a year, a quarter or a month, and nothing else", () => {
    for (const p of ["2026", "2026-Q1", "2026-Q4", "2026-01", "2026-12"]) expect(isPeriod(p)).toBe(true);
    for (const p of ["", "26", "2026-Q5", "2026-13", "2026-00", "2026-1", "2026-q3", "Q3-2026"]) expect(isPeriod(p)).toBe(false);
  });
});

describe("quarterOf", () => {
  it("names the quarter as quotas do", () => {
    expect(quarterOf(new Date(2026, 0, 1))).toBe("2026-Q1");
    expect(quarterOf(new Date(2026, 5, 30))).toBe("2026-Q2");
    expect(quarterOf(new Date(2026, 11, 31))).toBe("2026-Q4");
  });
});
