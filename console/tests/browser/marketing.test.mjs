// Marketing in Chromium against a real `crm up`: a marketer reads the RFM heat map, builds a
// segment with its live count, and runs a campaign through its test to the roll-out of the
// cells above break-even.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { OUTPUT, newPage, signIn, startSuite, violations } from "./suite.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const CUSTOMERS = 10;
let suite;
let browser;

before(async () => {
  suite = await startSuite();
  const parties = [];
  const orders = [];
  for (let i = 1; i <= CUSTOMERS; i++) {
    parties.push({ external_id: `c-${i}`, kind: "person", given_name: `Buyer${i}`, family_name: "Chen", email: `buyer${i}@example.com` });
    // Customer i bought i times, the last time i weeks ago.
    for (let n = 0; n < i; n++) {
      const day = new Date(Date.UTC(2026, 10, 30) - (i * 7 + n * 20) * 86400000).toISOString();
      orders.push({ external_id: `o-${i}-${n}`, party_external_id: `c-${i}`, placed_at: day, currency: "USD", amount: String(50 * i), status: "placed" });
    }
  }
  suite.import("parties", parties);
  suite.import("orders", orders);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await suite?.stop();
});

test("a marketer segments the base and rolls a campaign out to the cells above break-even", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Marketer", "mk-1");

  // The heat map, once marketing has the purchases.
  await page.getByRole("link", { name: "Marketing" }).click();
  await page.getByRole("heading", { level: 1, name: "Marketing" }).waitFor();
  const rfm = page.getByRole("region", { name: "Customers by RFM cell" });
  await rfm.getByRole("cell", { name: "R5 F1" }).waitFor();

  // A segment of every buyer, its count live as the condition is typed.
  const builder = page.getByRole("form", { name: "New segment" });
  await builder.getByLabel("Field").selectOption("order_count");
  await builder.getByLabel("Comparison").selectOption({ label: "≥" });
  await builder.getByLabel("Value").fill("1");
  await builder.getByRole("status").filter({ hasText: `${CUSTOMERS} customers match` }).waitFor({ timeout: 60_000 });
  await builder.getByLabel("Segment name").fill("Buyers");
  await builder.getByRole("button", { name: "Save segment" }).click();
  await page.getByRole("region", { name: "Segments" }).getByRole("cell", { name: "Buyers" }).waitFor();
  // Each square now counts its customers.
  const total = await rfm.locator("td p:first-child").allTextContents();
  assert.equal(total.reduce((n, v) => n + Number(v.replace(/,/g, "")), 0), CUSTOMERS);
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "marketing.png"), fullPage: true });

  // A campaign to them: a contact costs 1, a response earns 20, so break-even is 5%.
  await page.getByRole("link", { name: "Campaigns" }).click();
  const form = page.getByRole("form", { name: "New campaign" });
  await form.getByLabel("Name").fill("Winter offer");
  await form.getByLabel("Target segment").selectOption({ label: "Buyers" });
  await form.getByLabel("Cost per contact").fill("1");
  await form.getByLabel("Net profit per response").fill("20");
  await form.getByLabel("Test 1 in N of each cell").fill("2");
  await form.getByRole("button", { name: "Create campaign" }).click();
  await page.getByRole("heading", { level: 1, name: /Winter offer/ }).waitFor();
  await page.getByText("Break-even response rate: 5%").waitFor();

  await page.getByRole("button", { name: "Select members" }).click();
  await page.getByText(`${CUSTOMERS} members selected`).waitFor();
  await page.getByRole("button", { name: "Start the test" }).click();
  await page.getByRole("heading", { level: 1 }).getByText("Testing").waitFor();
  // The test's contact run, gone through while the call waited.
  await page.getByText("Test contacts").waitFor();
  await page.getByText(/^\d+ contacted of up to \d+;/).waitFor();

  // One test member answers by phone: their cell is above break-even, the others below.
  const members = page.getByRole("region", { name: "Members" });
  await members.getByRole("button", { name: /^Record the response of the test member in cell / }).first().click();
  await members.getByRole("cell", { name: "Responded" }).waitFor();
  await page.reload();
  const results = page.getByRole("region", { name: "Test results by cell" });
  await results.getByText("Above: roll out").first().waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "campaign-test.png"), fullPage: true });

  await page.getByRole("button", { name: "Roll out" }).click();
  await page.getByRole("heading", { level: 1 }).getByText("Rolled out").waitFor();
  await page.getByText(/more members contacted in the cells above break-even/).waitFor();
  assert.deepEqual(errors, []);
});

test("a marketer fits the purchase models and reads churn risk and key customers", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Marketer", "mk-1");
  await page.getByRole("link", { name: "Marketing" }).click();
  await page.getByRole("link", { name: "Predictions" }).click();
  await page.getByRole("heading", { level: 1, name: "Predictions" }).waitFor();
  const model = page.getByRole("region", { name: "The purchase model" });
  await model.getByRole("button", { name: "Fit the models now" }).click();
  // The fit runs as a job; the page follows it to its end.
  await model.getByRole("status").filter({ hasText: `on ${CUSTOMERS} customers' histories` }).waitFor({ timeout: 60_000 });
  await model.getByText(/^BG\/NBD: r /).waitFor();

  // The biggest buyer leads the key customers; a buyer long silent is at risk.
  const key = page.getByRole("region", { name: "Key customers (next 52 weeks)" });
  await key.getByRole("row").nth(1).getByRole("link", { name: /^Buyer\d+ Chen$/ }).waitFor();
  assert.equal(await key.getByRole("row").count(), CUSTOMERS + 1, "every buyer is scored");
  const churn = page.getByRole("region", { name: "At risk of churning" });
  await churn.getByLabel("Probability still buying").selectOption({ label: "Under 50%" });
  await churn.getByRole("table").or(churn.getByText("No customer under this probability.")).first().waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "predictions.png"), fullPage: true });
  assert.deepEqual(errors, []);
});
