// Customer self-service in Chromium against a real `crm up`: each customer opens, follows and
// rates their own requests and sees no one else's; the help articles are searchable.
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
    { external_id: "c-2", kind: "person", given_name: "Ana", family_name: "Lopez", email: "ana@example.com" },
  ]);
  suite.import("articles", [
    { external_id: "kb-1", title: "Resetting your password", body: "Open the sign-in page and choose Forgot password.", language: "en", tags: "account" },
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await suite?.stop();
});

/** The party id of the customer found by `query`, read from their 360's address. */
async function partyId(page, query, name) {
  await page.goto(`${suite.url}customers?q=${encodeURIComponent(query)}`);
  await page.getByRole("link", { name }).click();
  await page.getByRole("heading", { level: 1, name: new RegExp(name) }).waitFor();
  return decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
}

/** Signs `customerId` in and sends a request; the address of the case it opened. */
async function request(customerId, user, subject) {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Customer", user, { "Customer id": customerId });
  await page.getByRole("heading", { level: 1, name: "Your requests" }).waitFor();
  const form = page.getByRole("form", { name: "New request" });
  await form.getByLabel("Subject").fill(subject);
  await form.getByLabel("Description").fill("Please help.");
  await form.getByRole("button", { name: "Send" }).click();
  await page.getByRole("heading", { level: 1, name: new RegExp(subject) }).waitFor();
  return { page, errors, url: page.url() };
}

test("customers open, follow and rate their own requests and see no one else's", async () => {
  // The desk takes customers' own requests in its self-service queue.
  const { page: staff, errors: staffErrors } = await newPage(browser);
  await signIn(staff, suite.url, "Administrator", "dev-admin");
  await staff.getByRole("link", { name: "Service settings" }).click();
  const queues = staff.getByRole("region", { name: "Queues" });
  await queues.getByLabel("Name").fill("Self-service");
  await queues.getByRole("button", { name: "Add queue" }).click();
  await queues.getByRole("cell", { name: "Self-service" }).waitFor();
  const mei = await partyId(staff, "mei.lin@example.com", "Mei Lin");
  const ana = await partyId(staff, "ana@example.com", "Ana Lopez");

  const anas = await request(ana, "ana", "Invoice copy");
  const { page, errors, url } = await request(mei, "mei", "Broken screen");
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "self-service-case.png"), fullPage: true });

  // Her list holds her request only; Ana's is refused to her, and the page says so.
  await page.getByRole("link", { name: "Your requests", exact: true }).click();
  const open = page.getByRole("region", { name: "Open requests" });
  await open.getByRole("link", { name: "Broken screen" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Invoice copy" }).count(), 0);
  assert.equal(await page.getByRole("link", { name: "Customers" }).count(), 0, "no search of the base");
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "self-service.png"), fullPage: true });
  await page.goto(anas.url);
  await page.getByRole("alert").waitFor();
  assert.equal(await page.getByRole("heading", { name: /Invoice copy/ }).count(), 0);

  // The help articles.
  await page.getByRole("link", { name: "Your requests", exact: true }).click();
  await page.getByLabel("Search the help articles").fill("password");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByText("Resetting your password").waitFor();

  // The desk resolves it; she rates it.
  await staff.goto(url);
  const work = staff.getByRole("region", { name: "Work on the case" });
  await work.getByLabel("Status", { exact: true }).selectOption({ label: "Resolved" });
  await work.getByLabel("Resolution").fill("A new screen is on its way.");
  await work.getByRole("button", { name: "Change status" }).click();
  await staff.getByRole("heading", { level: 1 }).getByText("Resolved").waitFor();

  await page.goto(url);
  await page.getByText("A new screen is on its way.").waitFor();
  const mine = page.getByRole("region", { name: "Your part" });
  await mine.getByLabel("Rating").selectOption("5");
  await mine.getByRole("button", { name: "Rate" }).click();
  await page.getByText("You rated it 5 of 5.").waitFor();
  await mine.getByRole("button", { name: "Close the request" }).click();
  await page.getByRole("heading", { level: 1 }).getByText("Closed").waitFor();
  assert.deepEqual(await violations(page), []);
  assert.deepEqual([...errors, ...anas.errors, ...staffErrors], []);
});
