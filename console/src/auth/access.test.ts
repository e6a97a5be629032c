import { describe, expect, it } from "vitest";
import { can } from "./access";

const as = (...roles: string[]) => ({ user: "u", roles });

describe("what the console offers", () => {
  it("offers nothing to no one", () => {
    expect(can(null, "customers.search")).toBe(false);
  });

  it("lets sellers move deals and service staff work cases, not each other's", () => {
    expect(can(as("sales_rep"), "sales.sell")).toBe(true);
    expect(can(as("sales_rep"), "service.work")).toBe(false);
    expect(can(as("service_agent"), "service.work")).toBe(true);
    expect(can(as("service_agent"), "sales.pipeline")).toBe(false);
  });

  it("lets auditors read but not change", () => {
    expect(can(as("auditor"), "sales.pipeline")).toBe(true);
    expect(can(as("auditor"), "service.cases")).toBe(true);
    expect(can(as("auditor"), "sales.sell")).toBe(false);
    expect(can(as("auditor"), "service.work")).toBe(false);
  });

  it("keeps SLA targets to managers", () => {
    expect(can(as("service_agent"), "service.manage")).toBe(false);
    expect(can(as("service_manager"), "service.manage")).toBe(true);
  });

  it("keeps merging, alert checks and quotas to managers, and lets marketing hand over leads", () => {
    expect(can(as("sales_manager"), "customers.merge")).toBe(true);
    expect(can(as("sales_rep"), "customers.merge")).toBe(false);
    expect(can(as("data_steward"), "customers.merge")).toBe(false);
    expect(can(as("sales_manager"), "sales.manage")).toBe(true);
    expect(can(as("sales_rep"), "sales.manage")).toBe(false);
    expect(can(as("marketer"), "sales.lead")).toBe(true);
    expect(can(as("marketer"), "sales.sell")).toBe(false);
  });

  it("keeps imports to administrators and data stewards, as the services do", () => {
    expect(can(as("data_steward"), "data.import")).toBe(true);
    expect(can(as("admin"), "data.import")).toBe(true);
    expect(can(as("sales_manager"), "data.import")).toBe(false);
    expect(can(as("auditor"), "data.import")).toBe(false);
  });

  it("gives customers their own desk and nothing of the base", () => {
    expect(can(as("customer"), "self.service")).toBe(true);
    expect(can(as("customer"), "customers.search")).toBe(false);
    expect(can(as("customer"), "service.cases")).toBe(false);
    expect(can(as("service_agent"), "self.service")).toBe(false);
  });

  it("gives a partner's users their partner's figures and nothing of the base", () => {
    expect(can(as("partner_user"), "partners.performance")).toBe(true);
    expect(can(as("channel_manager"), "partners.performance")).toBe(true);
    expect(can(as("partner_user"), "sales.pipeline")).toBe(false);
  });

  it("grants what any of a user's roles grants", () => {
    expect(can(as("marketer", "service_agent"), "service.work")).toBe(true);
    expect(can(as("partner_user"), "customers.search")).toBe(false);
  });
});
