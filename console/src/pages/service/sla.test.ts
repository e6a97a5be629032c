import { describe, expect, it } from "vitest";
import { countdown } from "./sla";

const now = new Date("2026-12-06T10:00:00Z");
const plus = (seconds: number) => new Date(now.getTime() + seconds * 1000);

describe("an SLA countdown", () => {
  it("counts the time left in hours, minutes and seconds", () => {
    expect(countdown(plus(3 * 3600 + 5 * 60 + 7), now)).toEqual({ overdue: false, clock: "03:05:07" });
  });

  it("shows days when more than one is left", () => {
    expect(countdown(plus(2 * 86400 + 61), now).clock).toBe("2d 00:01:01");
  });

  it("says how long ago a passed moment was", () => {
    expect(countdown(plus(-90), now)).toEqual({ overdue: true, clock: "00:01:30" });
  });

  it("is not overdue at the due second", () => {
    expect(countdown(now, now)).toEqual({ overdue: false, clock: "00:00:00" });
  });
});
