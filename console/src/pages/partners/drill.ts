// Drilling through partner performance: partner -> period -> product category -> product, each
// level a view the address keeps (so a drill can be linked and the back button climbs back up),
// and where an exception cell leads.
import { Dimension, type PerformanceRow } from "../../gen/crm/partners/v1/partners_pb";

/** Where the drill stands. */
export interface Drill {
  /** The partner in scope (with those below it); empty for every channel. */
  partner: string;
  /** "2026", "2026-Q3" or "2026-07". */
  period: string;
  /** A product category, once drilled to one. */
  category: string;
  /** What the rows are. */
  dimension: Dimension;
  /** The row to point out (an exception cell drilled to). */
  focus: string;
}

const NAMES: [string, Dimension][] = [
  ["partner", Dimension.PARTNER],
  ["period", Dimension.PERIOD],
  ["category", Dimension.PRODUCT_CATEGORY],
  ["product", Dimension.PRODUCT],
  ["region", Dimension.REGION],
];

/** The drill an address names, with `defaults` for what it leaves out. */
export function readDrill(query: URLSearchParams, defaults: { period: string; partner: string; dimension: Dimension }): Drill {
  const dim = NAMES.find(([name]) => name === query.get("dim"))?.[1];
  return {
    partner: query.get("partner") ?? defaults.partner,
    period: query.get("period") || defaults.period,
    category: query.get("category") ?? "",
    dimension: dim ?? defaults.dimension,
    focus: query.get("focus") ?? "",
  };
}

/** The address of `drill`. */
export function drillHref(drill: Drill): string {
  const query = new URLSearchParams();
  if (drill.partner) query.set("partner", drill.partner);
  query.set("period", drill.period);
  if (drill.category) query.set("category", drill.category);
  query.set("dim", NAMES.find(([, d]) => d === drill.dimension)?.[0] ?? "partner");
  if (drill.focus) query.set("focus", drill.focus);
  return `/partners?${query}`;
}

/** The level below a row of `drill`, or null at the bottom. */
export function deeper(drill: Drill, rowKey: string): Drill | null {
  const at = { ...drill, focus: "" };
  switch (drill.dimension) {
    case Dimension.PARTNER:
      return { ...at, partner: rowKey, dimension: Dimension.PERIOD };
    case Dimension.PERIOD:
      return { ...at, period: rowKey, dimension: Dimension.PRODUCT_CATEGORY };
    case Dimension.PRODUCT_CATEGORY:
      return { ...at, category: rowKey, dimension: Dimension.PRODUCT };
    default:
      return null;
  }
}

/** Where an exception cell (key `partner|month|category|product`) is seen in its context, the
 * cell pointed out: a product's among the category's products, a category's among the month's
 * categories. */
export function exceptionDrill(key: string): Drill {
  const [partner = "", month = "", category = "", product = ""] = key.split("|");
  const drill = { partner, period: month };
  return product
    ? { ...drill, category, dimension: Dimension.PRODUCT, focus: product }
    : { ...drill, category: "", dimension: Dimension.PRODUCT_CATEGORY, focus: category };
}

/** Whether a row is behind plan: its actual under `thresholdBps` of the target pro-rated to the
 * time elapsed (the service's test for an exception). */
export function behind(row: PerformanceRow, thresholdBps = 8000): boolean {
  const expected = row.expected?.amountMinor ?? 0n;
  const actual = row.actual?.amountMinor ?? 0n;
  return expected > 0n && actual * 10000n < expected * BigInt(thresholdBps);
}
