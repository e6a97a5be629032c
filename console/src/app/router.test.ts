import { describe, expect, it, vi } from "vitest";

vi.stubGlobal("window", { addEventListener: () => {}, location: { origin: "http://localhost" } });
const { match } = await import("./router");

describe("paths", () => {
  it("match patterns with parameters", () => {
    expect(match("/customers/:id", "/customers/p%2F1")).toEqual({ id: "p/1" });
    expect(match("/customers/:id", "/customers")).toBeNull();
    expect(match("/customers", "/customers/")).toEqual({});
    expect(match("/cases/:id", "/customers/1")).toBeNull();
  });
});
