// Partners in Chromium against a real `crm up`: a channel manager drills from the channels to a
// partner's exception cell; a partner's own user sees their partner only; the hierarchy, a
// partner's scorecard, and the portal's e-orders and deal registrations.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { OUTPUT, eventually, newPage, signIn, startSuite, violations } from "./suite.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
let suite;
let browser;
/** The partners' ids, as the channel manager's page links them. */
const ids = {};

before(async () => {
  suite = await startSuite();
  suite.import("parties", [{ external_id: "c-1", kind: "organization", organization_name: "Lin Trading Ltd" }]);
  suite.import("products", [
    { sku: "LAPTOP-14", name: "Laptop 14", category: "laptops", unit: "each", active: "true", price_book: "Standard", unit_price: "1000", currency: "USD" },
  ]);
  const partner = { type: "distributor", status: "active", operating_model: "buy_sell", agreement_start: "2026-01-01" };
  suite.import("partners", [
    { external_id: "p-n", name: "Channel North", ...partner },
    { external_id: "p-s", name: "Channel South", ...partner },
    { external_id: "p-d", name: "North Dealer", ...partner, type: "dealer", parent_external_id: "p-n" },
  ]);
  suite.import("targets", [
    { partner_external_id: "p-n", period: "2026-11", product_category: "laptops", amount: "10000", currency: "USD" },
    { partner_external_id: "p-s", period: "2026-11", product_category: "laptops", amount: "10000", currency: "USD" },
  ]);
  // North sells nine laptops in November, South one.
  const order = { party_external_id: "c-1", placed_at: "2026-11-10T10:00:00Z", currency: "USD", status: "placed" };
  // Sales knows the partners once the partners service has announced them.
  await suite.importWhenKnown("orders", [
    { external_id: "o-n", ...order, amount: "9000", partner_external_id: "p-n", lines: "LAPTOP-14:9:1000" },
    { external_id: "o-s", ...order, amount: "1000", partner_external_id: "p-s", lines: "LAPTOP-14:1:1000" },
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await suite?.stop();
});

const performance = (page) => page.getByRole("region", { name: "Performance against target" });

test("a channel manager drills from the channels into a partner's exception", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Channel manager", "cm-1");
  await page.getByRole("link", { name: "Partners" }).click();
  await page.getByRole("heading", { level: 1, name: "Partner performance" }).waitFor();
  // The channels: South is behind plan. (The figures arrive from sales' events.)
  const south = performance(page).getByRole("row", { name: /Channel South/ });
  await south.getByText("Behind plan").waitFor({ timeout: 60_000 });
  await performance(page).getByRole("row", { name: /Channel North/ }).getByText("On plan").waitFor();
  for (const name of ["Channel North", "Channel South"]) {
    const href = await performance(page).getByRole("link", { name }).getAttribute("href");
    ids[name] = new URL(href, suite.url).searchParams.get("partner");
  }
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "partners.png"), fullPage: true });

  // The exception cell, with its path, opens where it sits: South's November by category.
  const exceptions = page.getByRole("region", { name: "Exceptions" });
  await exceptions.getByRole("link", { name: "Channel South › 2026-11 › laptops" }).click();
  const where = page.getByRole("navigation", { name: "Where you are" });
  await where.getByText("2026-11").waitFor();
  await where.getByRole("link", { name: "Channel South" }).waitFor();
  const cell = performance(page).locator('tr[aria-current="true"]');
  await cell.getByText("Exception").waitFor();
  assert.match(await cell.textContent(), /laptops/);
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "partner-exception.png"), fullPage: true });

  // Down to the products of the category, and back up to every channel.
  await performance(page).getByRole("link", { name: "laptops" }).click();
  await performance(page).getByRole("row", { name: /Laptop 14/ }).waitFor();
  await where.getByRole("link", { name: "All channels" }).click();
  await performance(page).getByRole("link", { name: "Channel North" }).waitFor();
  assert.deepEqual(errors, []);
});

test("a partner's user sees their own partner only", async () => {
  assert.ok(ids["Channel North"] && ids["Channel South"], "the partners' ids from the first test");
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Partner user", "north-1", { "Partner id": ids["Channel North"] });
  // Their home: their own partner, by period.
  await page.getByRole("heading", { level: 1, name: "Partner performance" }).waitFor();
  await performance(page).getByRole("row", { name: /2026-Q4/ }).waitFor();
  assert.equal(await page.getByText("Channel South").count(), 0);
  await page.getByRole("region", { name: "Exceptions" }).getByText("None").waitFor();
  assert.deepEqual(await violations(page), []);

  // Another partner's figures are refused, and the page says so.
  await page.goto(`${suite.url}partners?partner=${encodeURIComponent(ids["Channel South"])}&period=2026&dim=period`);
  await page.getByRole("alert").waitFor();
  assert.equal(await page.getByText("Channel South").count(), 0);
  assert.deepEqual(errors, []);
});

test("a partner is linked to its account, and its scorecard evaluated from the hierarchy", async () => {
  // A sales manager, who reads the customers, links the partner to its customer account: its
  // e-orders are sold to it.
  const sales = await newPage(browser);
  await signIn(sales.page, suite.url, "Sales manager", "sm-1");
  await sales.page.goto(`${suite.url}partners/p/${encodeURIComponent(ids["Channel North"])}`);
  const details = sales.page.getByRole("region", { name: "Partner", exact: true });
  await details.getByLabel("The customer account its e-orders are sold to").fill("Lin Trading");
  await details.getByRole("button", { name: "Search" }).click();
  await details.getByRole("button", { name: "Lin Trading Ltd" }).click();
  await details.getByRole("row", { name: "Customer account Lin Trading Ltd" }).waitFor();
  assert.deepEqual(sales.errors, []);

  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Channel manager", "cm-1");
  await page.getByRole("link", { name: "Partners" }).click();
  await page.getByRole("link", { name: "Hierarchy" }).click();
  await page.getByRole("heading", { level: 1, name: "Hierarchy" }).waitFor();
  const levels = page.getByRole("region", { name: "Partners by level" });
  // The dealer under its distributor.
  await levels.getByRole("listitem").filter({ hasText: "Channel North" }).getByRole("link", { name: "North Dealer" }).waitFor();
  await page.getByRole("img", { name: /^The channel hierarchy/ }).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "partner-hierarchy.png"), fullPage: true });

  await levels.getByRole("link", { name: "Channel North" }).click();
  await page.getByRole("heading", { level: 1, name: /Channel North/ }).waitFor();
  const cards = page.getByRole("region", { name: "Scorecards" });
  await cards.getByText("Not evaluated yet.").waitFor();
  await cards.getByLabel("Period", { exact: true }).fill("2026-11");
  await cards.getByRole("button", { name: "Evaluate for the period" }).click();
  // Nine of ten laptops sold: 90% of the target.
  const card = cards.getByRole("region", { name: "Scorecard 2026-11" });
  await card.getByRole("row", { name: /^Target attainment 90%/ }).waitFor();
  await card.getByText(/^Score \d+ of 100$/).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "partner.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("a partner's user orders and registers a deal in the portal, which the channel approves", async () => {
  const partner = await newPage(browser);
  await signIn(partner.page, suite.url, "Partner user", "north-1", { "Partner id": ids["Channel North"] });
  await partner.page.getByRole("link", { name: "Partner portal" }).click();
  await partner.page.getByRole("heading", { level: 1, name: "Partner portal" }).waitFor();
  await partner.page.getByRole("region", { name: "Catalog" }).getByRole("row", { name: /Laptop 14/ }).waitFor();

  const order = partner.page.getByRole("form", { name: "New e-order" });
  await order.getByLabel("Your reference").fill("PO-1001");
  await order.getByLabel("Quantity").fill("2");
  await order.getByRole("button", { name: "Submit the order" }).click();
  // It becomes a sales order on the partner's channel.
  await eventually(partner.page, partner.page.getByRole("row", { name: /PO-1001 .* \$2,000\.00 Placed/ }));

  const deal = partner.page.getByRole("form", { name: "Register the deal" });
  await deal.getByLabel("Company").fill("Acme Ltd");
  await deal.getByLabel("Estimated amount (USD)").fill("5000");
  await deal.getByRole("button", { name: "Register the deal" }).click();
  await partner.page.getByRole("row", { name: /Acme Ltd \$5,000\.00 .* Pending/ }).waitFor();
  // A partner's user does not review their own registration.
  assert.equal(await partner.page.getByRole("button", { name: "Approve Acme Ltd" }).count(), 0);
  assert.deepEqual(await violations(partner.page), []);
  await partner.page.screenshot({ path: join(OUTPUT, "portal.png"), fullPage: true });

  const channel = await newPage(browser);
  await signIn(channel.page, suite.url, "Channel manager", "cm-1");
  await channel.page.getByRole("link", { name: "Partners" }).click();
  await channel.page.getByRole("link", { name: "Partner portal" }).click();
  // The channel's staff find the partner they act for by the start of its name.
  const choose = channel.page.getByRole("form", { name: "Choose a partner" });
  await choose.getByLabel("Partner", { exact: true }).fill("channel n");
  await choose.getByRole("button", { name: "Find" }).click();
  await channel.page.getByRole("button", { name: "Channel North" }).click();
  await channel.page.getByRole("button", { name: "Approve Acme Ltd" }).click();
  await channel.page.getByRole("row", { name: /Acme Ltd .* Approved/ }).waitFor();
  assert.deepEqual(partner.errors, []);
  assert.deepEqual(channel.errors, []);
});
