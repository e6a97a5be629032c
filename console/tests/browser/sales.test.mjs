// A sales rep works the pipeline in Chromium against a real `crm up`: moves a deal across stages
// on the board (by dragging, then by the card's menu), quotes it from the price book, presents
// and accepts the quote, and the deal is won.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { OUTPUT, newPage, signIn, startSuite, violations } from "./suite.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
let suite;
let browser;

before(async () => {
  suite = await startSuite();
  suite.import("parties", [
    { external_id: "c-1", kind: "person", given_name: "Mei", family_name: "Lin", email: "mei.lin@example.com" },
  ]);
  suite.import("products", [
    { sku: "LAPTOP-14", name: "Laptop 14", product_line: "hardware", category: "laptops", unit: "each", active: "true", price_book: "Standard", unit_price: "1200", currency: "USD" },
  ]);
  suite.import("opportunities", [
    { external_id: "o-1", party_external_id: "c-1", name: "Lin laptops", stage: "qualification", amount: "3600", currency: "USD", expected_close_date: "2027-03-31", owner_id: "rep-1", created_at: "2026-11-02T09:00:00Z" },
    { external_id: "o-2", party_external_id: "c-1", name: "Lin support", stage: "prospecting", amount: "900", currency: "USD", expected_close_date: "2027-06-30", owner_id: "rep-1", created_at: "2026-11-20T09:00:00Z" },
    // Its expected close has passed: the alert rules raise it.
    { external_id: "o-3", party_external_id: "c-1", name: "Lin renewal", stage: "proposal", amount: "1500", currency: "USD", expected_close_date: "2026-10-31", owner_id: "rep-1", created_at: "2026-09-01T09:00:00Z" },
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await suite?.stop();
});

/** The team the second test sets up, managed by mgr-1. */
let teamId = "";

const column = (page, stage) => page.getByRole("region", { name: stage, exact: true });

test("a sales rep moves a deal across the board, quotes it and wins it", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Sales rep", "rep-1");
  await page.getByRole("link", { name: "Pipeline" }).click();
  await page.getByRole("heading", { level: 1, name: "Pipeline" }).waitFor();
  await column(page, "Qualification").getByRole("link", { name: "Lin laptops" }).waitFor();
  assert.deepEqual(await violations(page), []);

  // Dragged from Qualification to Proposal.
  await column(page, "Qualification")
    .locator("[data-deal]", { hasText: "Lin laptops" })
    .dragTo(column(page, "Proposal"));
  await column(page, "Proposal").getByRole("link", { name: "Lin laptops" }).waitFor();
  assert.equal(await column(page, "Qualification").getByRole("link", { name: "Lin laptops" }).count(), 0);
  await page.getByRole("status").filter({ hasText: "Lin laptops moved to Proposal." }).waitFor();
  await page.screenshot({ path: join(OUTPUT, "pipeline.png"), fullPage: true });

  // Then with the keyboard's way, the card's own menu.
  await page.getByLabel("Move Lin laptops to").selectOption("negotiation");
  await column(page, "Negotiation").getByRole("link", { name: "Lin laptops" }).waitFor();

  // The moves were the service's: a fresh board shows them.
  await page.reload();
  await column(page, "Negotiation").getByRole("link", { name: "Lin laptops" }).waitFor();
  await column(page, "Prospecting").getByRole("link", { name: "Lin support" }).waitFor();

  // The deal: its stages planned against actual.
  await column(page, "Negotiation").getByRole("link", { name: "Lin laptops" }).click();
  await page.getByRole("heading", { level: 1, name: /Lin laptops/ }).waitFor();
  const stages = page.getByRole("region", { name: "Stages, planned and actual" });
  await stages.getByRole("cell", { name: "Current stage" }).waitFor();
  assert.equal(await stages.getByRole("row").count(), 4, "a header and three stages visited");

  // Planned to leave negotiation by mid-January: it is late, and the row says by how much.
  const work = page.getByRole("region", { name: "Work on the deal" });
  await work.getByLabel("Stage").selectOption("negotiation");
  await work.getByLabel("Planned to leave by").fill("2026-01-15");
  await work.getByRole("button", { name: "Plan" }).click();
  await stages.getByText(/^\d+ days late$/).waitFor();

  // A quote from the price book: three laptops at 1,200.
  const quotes = page.getByRole("region", { name: "Quotes" });
  await quotes.getByLabel("Price book").selectOption({ label: "Standard (USD)" });
  // The product found by the start of its name or SKU, among those the book prices.
  await quotes.getByLabel("Product", { exact: true }).fill("lap");
  await quotes.getByRole("button", { name: "Find", exact: true }).click();
  await quotes.getByRole("button", { name: "Laptop 14 (LAPTOP-14) · $1,200.00" }).click();
  await quotes.getByLabel("Quantity").fill("3");
  await quotes.getByRole("button", { name: "Add line" }).click();
  await quotes.getByRole("table", { name: "Lines" }).getByText("Laptop 14 (LAPTOP-14) · $1,200.00").waitFor();
  await page.screenshot({ path: join(OUTPUT, "new-quote.png"), fullPage: true });
  await quotes.getByRole("button", { name: "Create quote" }).click();
  await quotes.getByRole("cell", { name: "$3,600.00" }).waitFor();
  await quotes.getByText("Draft", { exact: true }).waitFor();
  assert.deepEqual(await violations(page), []);

  await quotes.getByRole("button", { name: /^Present / }).click();
  await quotes.getByText("Presented", { exact: true }).waitFor();
  await quotes.getByRole("button", { name: /^Accept / }).click();

  // Accepting placed the order and won the deal.
  await page.getByRole("heading", { level: 1, name: /Lin laptops/ }).getByText("Won").waitFor();
  await page.getByRole("region", { name: "Quotes" }).getByText("Accepted", { exact: true }).waitFor();
  await page.getByRole("region", { name: "Quotes" }).getByText(/^Order /).waitFor();
  assert.equal(await page.getByRole("button", { name: /^Accept / }).count(), 0, "nothing left to accept");
  await page.screenshot({ path: join(OUTPUT, "opportunity.png"), fullPage: true });

  // A won deal leaves the board.
  await page.getByRole("link", { name: "Back to the pipeline" }).click();
  await column(page, "Prospecting").getByRole("link", { name: "Lin support" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Lin laptops" }).count(), 0);
  assert.deepEqual(errors, []);
});

test("a sales manager sets up a team and a quota, and an administrator reads the reports", async () => {
  let { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Sales manager", "mgr-1");
  await page.getByRole("link", { name: "Pipeline" }).click();
  await page.getByRole("link", { name: "Organisation" }).click();
  await page.getByRole("heading", { level: 1, name: "Organisation" }).waitFor();

  const build = page.getByRole("region", { name: "Add to the organisation" });
  const department = build.getByRole("form", { name: "Add the department" });
  await department.getByLabel("Department").fill("Direct");
  await department.getByRole("button", { name: "Add the department" }).click();
  const team = build.getByRole("form", { name: "Add the team" });
  await team.getByLabel("Team").fill("Enterprise");
  await team.getByLabel("Manager (user id)").fill("mgr-1");
  await team.getByRole("button", { name: "Add the team" }).click();
  const rep = build.getByRole("form", { name: "Add the rep" });
  await rep.getByLabel("Rep (user id)").fill("rep-1");
  await rep.getByLabel("Name").fill("Ana Rep");
  await rep.getByRole("button", { name: "Add the rep" }).click();
  const teams = page.getByRole("region", { name: "Teams" });
  const enterprise = teams.getByRole("row", { name: /Enterprise Direct mgr-1 Ana Rep/ });
  await enterprise.waitFor();
  // The team's id, as a manager's token names it.
  teamId = (await enterprise.getByRole("cell").last().textContent()).trim();

  // This quarter's quota for the rep.
  const quotas = page.getByRole("region", { name: "Quotas" });
  const setQuota = quotas.getByRole("form", { name: "Set a quota" });
  await setQuota.getByLabel("Owner").selectOption({ label: "Ana Rep" });
  await setQuota.getByLabel("Quota").fill("5000");
  await setQuota.getByRole("button", { name: "Set" }).click();
  await quotas.getByRole("row", { name: /Ana Rep Rep Any \$5,000\.00/ }).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "sales-organisation.png"), fullPage: true });

  assert.deepEqual(errors, []);

  // The administrator reads every record: the imported deals and the first test's order. (A
  // manager reads their team's, by the team their token names.)
  ({ page, errors } = await newPage(browser));
  await signIn(page, suite.url, "Administrator", "dev-admin");
  await page.getByRole("link", { name: "Pipeline" }).click();
  await page.getByRole("link", { name: "Reports" }).click();
  await page.getByRole("heading", { level: 1, name: "Reports" }).waitFor();
  const funnel = page.getByRole("region", { name: "Funnel" });
  await funnel.getByRole("img", { name: /^The funnel/ }).waitFor();
  // Every deal reached prospecting; one is still there, two moved on.
  await funnel.getByRole("row", { name: /^Prospecting 1 \$900\.00 3 66\.7%/ }).waitFor();
  await funnel.getByRole("row", { name: /^Closed won 1 \$3,600\.00/ }).waitFor();
  const forecast = page.getByRole("region", { name: "Forecast" });
  await forecast.getByRole("row", { name: /^2027-06 1 \$900\.00 \$90\.00/ }).waitFor();
  // The deal won by the first test is this quarter's business of the rep.
  const attainment = page.getByRole("region", { name: "Quota attainment" });
  await attainment.getByRole("row", { name: /^Ana Rep Rep \$5,000\.00 \$3,600\.00 72%/ }).waitFor();
  await page.getByRole("region", { name: "Win rate" }).getByRole("row", { name: "Won 1" }).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "sales-reports.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("a rep types in a lead, qualifies it and converts it into a deal", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Sales rep", "rep-1");
  await page.getByRole("link", { name: "Pipeline" }).click();
  await page.getByRole("link", { name: "Leads" }).click();
  const form = page.getByRole("form", { name: "New lead" });
  await form.getByLabel("Company").fill("Acme Ltd");
  await form.getByLabel("Contact").fill("Jo Doe");
  await form.getByLabel("Phone").fill("12");
  await form.getByRole("button", { name: "Create the lead" }).click();
  // Refused, and told beside the field.
  await form.getByText("not a phone number", { exact: true }).waitFor();
  await form.getByLabel("Phone").fill("+886 2 2345 6789");
  await form.getByRole("button", { name: "Create the lead" }).click();
  await page.getByRole("heading", { level: 1, name: /Acme Ltd · Jo Doe New/ }).waitFor();
  assert.deepEqual(await violations(page), []);

  const qualify = page.getByRole("form", { name: "Qualify" });
  await qualify.getByLabel("Status").selectOption({ label: "Qualified" });
  await qualify.getByLabel("Score (0–100)").fill("80");
  await qualify.getByRole("button", { name: "Save" }).click();
  await page.getByRole("heading", { level: 1, name: /Qualified/ }).waitFor();
  await page.screenshot({ path: join(OUTPUT, "lead.png"), fullPage: true });

  const convert = page.getByRole("form", { name: "Convert to an opportunity" });
  await convert.getByLabel("Opportunity name").fill("Acme pilot");
  await convert.getByLabel("Amount").fill("1000");
  await convert.getByLabel("Expected close").fill("2027-01-31");
  await convert.getByRole("button", { name: "Convert" }).click();
  await page.getByRole("heading", { level: 1, name: /Acme pilot/ }).waitFor();

  // The lead is settled, and listed as converted.
  await page.goto(`${suite.url.replace(/\/$/, "")}/leads`);
  await page.getByRole("row", { name: /Acme Ltd · Jo Doe .* Manual Converted 80/ }).waitFor();
  assert.deepEqual(errors, []);
});

test("an overdue deal raises an alert, which its rep marks handled", async () => {
  assert.ok(teamId, "the team's id from the second test");
  const manager = await newPage(browser);
  // The rep's manager, by the team their token names.
  await signIn(manager.page, suite.url, "Sales manager", "mgr-1", { "Team id (optional)": teamId });
  await manager.page.getByRole("link", { name: "Pipeline" }).click();
  await manager.page.getByRole("link", { name: "Alerts" }).click();
  await manager.page.getByRole("button", { name: "Check the rules now" }).click();
  await manager.page.getByRole("status").filter({ hasText: /alerts? raised/ }).waitFor();
  // The manager sees the alert of a rep of their team.
  await manager.page.getByRole("row", { name: /Overdue close/ }).getByRole("link", { name: /Lin renewal/ }).waitFor();
  assert.deepEqual(await violations(manager.page), []);
  await manager.page.screenshot({ path: join(OUTPUT, "sales-alerts.png"), fullPage: true });

  const rep = await newPage(browser);
  await signIn(rep.page, suite.url, "Sales rep", "rep-1");
  await rep.page.getByRole("link", { name: "Pipeline" }).click();
  await rep.page.getByRole("link", { name: "Alerts" }).click();
  const overdue = rep.page.getByRole("row", { name: /Overdue close/ });
  await overdue.getByRole("button", { name: /^Mark handled/ }).click();
  await rep.page.getByRole("status").filter({ hasText: /^Handled/ }).waitFor();
  // A handled alert leaves the open list.
  await overdue.first().waitFor({ state: "detached" });
  await rep.page.getByRole("checkbox", { name: "Include handled alerts" }).check();
  await overdue.getByText(/^Handled /).waitFor();
  assert.deepEqual(manager.errors, []);
  assert.deepEqual(rep.errors, []);
});

test("an auditor reads the board but cannot move a deal", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Auditor", "audit-1");
  await page.getByRole("link", { name: "Pipeline" }).click();
  await column(page, "Prospecting").getByRole("link", { name: "Lin support" }).waitFor();
  assert.equal(await page.getByLabel("Move Lin support to").count(), 0);
  assert.equal(await page.getByRole("link", { name: "Cases" }).count(), 1);
  assert.deepEqual(errors, []);
});

test("the board and the header are usable at tablet width", async () => {
  const { page, errors } = await newPage(browser, { width: 820, height: 1180 });
  // An administrator: the most areas in the header.
  await signIn(page, suite.url, "Administrator", "dev-admin");
  await page.getByRole("link", { name: "Pipeline" }).click();
  await column(page, "Prospecting").waitFor();
  // Every area stays reachable in the header: the last one scrolls into view and opens.
  await page.getByRole("link", { name: "Partners" }).click();
  await page.getByRole("heading", { level: 1, name: "Partner performance" }).waitFor();
  await page.goBack();
  await column(page, "Prospecting").waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "pipeline-tablet.png"), fullPage: true });
  assert.deepEqual(errors, []);
});
