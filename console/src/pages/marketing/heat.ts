// The RFM cells as a heat map: recency down the side (5, the most recent, on top), frequency
// across, each square the customers (and their revenue) of one monetary score or of all five.

/** One square of the map. */
export interface Square {
  r: number;
  f: number;
  customers: bigint;
  revenueMinor: bigint;
}

/** A cell as the service names it ("r-f-m") with its figures. */
export interface CellFigures {
  cell: string;
  customers: bigint;
  revenue?: { amountMinor: bigint };
}

/** The 5 x 5 squares, recency 5 to 1 by row and frequency 1 to 5 by column, of monetary score
 * `m` (1-5) or, with `m` 0, of all of them added up. */
export function squares(cells: CellFigures[], m: number): Square[][] {
  const rows = [5, 4, 3, 2, 1].map((r) =>
    [1, 2, 3, 4, 5].map((f) => ({ r, f, customers: 0n, revenueMinor: 0n })),
  );
  for (const c of cells) {
    const [r, f, mm] = c.cell.split("-").map(Number);
    if (![r, f, mm].every((x) => x >= 1 && x <= 5) || (m !== 0 && mm !== m)) continue;
    const square = rows[5 - r][f - 1];
    square.customers += c.customers;
    square.revenueMinor += c.revenue?.amountMinor ?? 0n;
  }
  return rows;
}

/** The shade of a count, 0 (none) to 4 (the most of the map): the map's colour scale. */
export function shade(count: bigint, most: bigint): number {
  if (count <= 0n || most <= 0n) return 0;
  return Math.min(4, 1 + Number((count * 3n) / most));
}
