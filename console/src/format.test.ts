import { describe, expect, it } from "vitest";
import { calendarDay, count, dateTime, money, share, toMinor } from "./format";

describe("formatting by locale", () => {
  it("writes money from minor units in the currency's own decimals", () => {
    expect(money(123456n, "USD", "en")).toBe("$1,234.56");
    // The New Taiwan dollar is written without cents; its minor unit is still the hundredth.
    expect(money(123400n, "TWD", "zh-TW")).toBe("$1,234.00");
    expect(money(500n, "JPY", "en")).toBe("¥500");
    expect(money(0n, "", "en")).toBe("0");
  });

  it("writes counts and shares", () => {
    expect(count(1234567n, "en")).toBe("1,234,567");
    expect(count(1234567, "zh-TW")).toBe("1,234,567");
    expect(share(6667, "en")).toBe("66.7%");
  });

  it("writes moments in the reader's language and zone", () => {
    const moment = new Date(Date.UTC(2026, 11, 4, 9, 30));
    expect(dateTime(moment, "en", "UTC")).toBe("Dec 4, 2026, 9:30 AM");
    expect(dateTime(moment, "zh-TW", "Asia/Taipei")).toContain("2026年12月4日");
    expect(dateTime(undefined, "en")).toBe("");
  });

  it("writes a calendar day as the same day in every zone", () => {
    expect(calendarDay("2026-12-31", "en")).toBe("Dec 31, 2026");
    expect(calendarDay("2026-12-31", "zh-TW")).toBe("2026年12月31日");
    expect(calendarDay("", "en")).toBe("");
  });

  it("reads a typed amount in the currency's minor units", () => {
    expect(toMinor("12.5", "USD")).toBe(1250n);
    expect(toMinor(0.1 + 0.2, "USD")).toBe(30n);
    expect(toMinor("500", "JPY")).toBe(500n);
  });
});
