import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { Dimension, PerformanceRowSchema } from "../../gen/crm/partners/v1/partners_pb";
import { behind, deeper, drillHref, exceptionDrill, readDrill } from "./drill";

const defaults = { period: "2026", partner: "", dimension: Dimension.PARTNER };

describe("drilling through partner performance", () => {
  it("goes partner -> period -> category -> product, and no further", () => {
    let drill = readDrill(new URLSearchParams(), defaults);
    expect(drill.dimension).toBe(Dimension.PARTNER);
    drill = deeper(drill, "p-north")!;
    expect([drill.partner, drill.dimension]).toEqual(["p-north", Dimension.PERIOD]);
    drill = deeper(drill, "2026-Q4")!;
    expect([drill.period, drill.dimension]).toEqual(["2026-Q4", Dimension.PRODUCT_CATEGORY]);
    drill = deeper(drill, "laptops")!;
    expect([drill.category, drill.dimension]).toEqual(["laptops", Dimension.PRODUCT]);
    expect(deeper(drill, "sku-1")).toBeNull();
  });

  it("keeps each level in the address", () => {
    const drill = { partner: "p 1", period: "2026-11", category: "laptops", dimension: Dimension.PRODUCT, focus: "x" };
    const href = drillHref(drill);
    expect(href).toBe("/partners?partner=p+1&period=2026-11&category=laptops&dim=product&focus=x");
    expect(readDrill(new URL(href, "http://h").searchParams, defaults)).toEqual(drill);
  });

  it("opens an exception cell among its neighbours, pointed out", () => {
    expect(exceptionDrill("p-south|2026-11|laptops|sku-1")).toEqual({
      partner: "p-south",
      period: "2026-11",
      category: "laptops",
      dimension: Dimension.PRODUCT,
      focus: "sku-1",
    });
    expect(exceptionDrill("p-south|2026-11|laptops|")).toMatchObject({
      category: "",
      dimension: Dimension.PRODUCT_CATEGORY,
      focus: "laptops",
    });
  });

  it("calls a row behind plan under 80% of its pro-rated target", () => {
    const row = (actual: bigint, expected: bigint) =>
      create(PerformanceRowSchema, {
        actual: { amountMinor: actual, currencyCode: "USD" },
        expected: { amountMinor: expected, currencyCode: "USD" },
      });
    expect(behind(row(79n, 100n))).toBe(true);
    expect(behind(row(80n, 100n))).toBe(false);
    expect(behind(row(0n, 0n))).toBe(false);
  });
});
