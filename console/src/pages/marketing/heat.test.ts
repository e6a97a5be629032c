import { describe, expect, it } from "vitest";
import { shade, squares } from "./heat";

const cell = (cell: string, customers: number, revenue = 0) => ({
  cell,
  customers: BigInt(customers),
  revenue: { amountMinor: BigInt(revenue) },
});

describe("the RFM heat map", () => {
  const cells = [cell("5-1-1", 3, 300), cell("5-1-5", 2, 900), cell("1-5-3", 7, 70), cell("bad", 99)];

  it("puts the most recent on top and the most frequent to the right", () => {
    const map = squares(cells, 0);
    expect(map[0][0]).toMatchObject({ r: 5, f: 1, customers: 5n, revenueMinor: 1200n });
    expect(map[4][4]).toMatchObject({ r: 1, f: 5, customers: 7n });
    expect(map.flat().reduce((n, s) => n + s.customers, 0n)).toBe(12n);
  });

  it("shows one monetary score when asked", () => {
    expect(squares(cells, 5)[0][0].customers).toBe(2n);
    expect(squares(cells, 2)[0][0].customers).toBe(0n);
  });

  it("shades from none to the most of the map", () => {
    expect(shade(0n, 10n)).toBe(0);
    expect(shade(1n, 10n)).toBe(1);
    expect(shade(5n, 10n)).toBe(2);
    expect(shade(10n, 10n)).toBe(4);
    expect(shade(3n, 0n)).toBe(0);
  });
});
