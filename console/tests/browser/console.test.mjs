// The console in Chromium against a real `crm up`: sign in, find a customer, open the 360,
// switch the language; an accessibility check on each screen; screenshots kept.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { OUTPUT, newPage as openPage, signIn as devSignIn, startSuite, violations } from "./suite.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
let suite;
let browser;
const newPage = (locale) => openPage(browser, { locale });
const signIn = (page, role, user) => devSignIn(page, suite.url, role, user);

before(async () => {
  suite = await startSuite();
  suite.import("parties", [
    { external_id: "c-1", kind: "person", given_name: "Mei", family_name: "Lin", email: "mei.lin@example.com", phone: "+886912345678" },
    { external_id: "c-2", kind: "person", given_name: "Ana", family_name: "Lopez", email: "ana@example.com", phone: "" },
    { external_id: "c-3", kind: "organization", organization_name: "Lin Trading Ltd", email: "", phone: "" },
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await suite?.stop();
});

test("an administrator finds a customer and opens the 360", async () => {
  const { page, errors } = await newPage();
  await page.goto(suite.url);
  await page.getByRole("heading", { name: "Sign in", exact: true }).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "sign-in.png") });

  await signIn(page, "Administrator", "dev-admin");
  await page.getByRole("heading", { name: "Customers", exact: true }).waitFor();
  await page.getByLabel("Search by name, e-mail or phone").fill("mei.lin@example.com");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("link", { name: "Mei Lin" }).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "customers.png") });

  await page.getByRole("link", { name: "Mei Lin" }).click();
  await page.getByRole("heading", { level: 1, name: /Mei Lin/ }).waitFor();
  for (const section of ["Profile", "Sales", "Marketing", "Service", "Partners"]) {
    await page.getByRole("region", { name: section }).waitFor();
  }
  await page.getByText("+886912345678").waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "customer-360.png"), fullPage: true });

  // Back and forward through the browser's history.
  await page.goBack();
  await page.getByRole("link", { name: "Mei Lin" }).waitFor();
  assert.deepEqual(errors, []);
});

test("an administrator edits a customer, told beside each field what is wrong", async () => {
  const { page, errors } = await newPage();
  await signIn(page, "Administrator", "dev-admin");
  await page.goto(`${suite.url}customers?q=${encodeURIComponent("ana@example.com")}`);
  await page.getByRole("link", { name: "Ana Lopez" }).click();
  await page.getByRole("link", { name: "Edit the customer" }).click();
  await page.getByRole("heading", { level: 1, name: "Edit Ana Lopez" }).waitFor();
  await page.getByLabel("Family name").fill("López García");
  await page.getByRole("button", { name: "Add contact point" }).click();
  const values = page.getByLabel("Value");
  await page.getByLabel("Kind").last().selectOption({ label: "Phone" });
  await values.last().fill("12");
  await page.getByRole("button", { name: "Save" }).click();
  // The service names the field; the form says it there, and nothing was saved.
  await page.getByText("not a phone number (7 to 15 digits)").first().waitFor();
  assert.equal(await values.last().getAttribute("aria-invalid"), "true");
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "customer-edit.png"), fullPage: true });

  await values.last().fill("+34 600 123 456");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("heading", { level: 1, name: /Ana López García/ }).waitFor();
  await page.getByText("+34 600 123 456").waitFor();
  assert.deepEqual(errors, []);
});

test("each main role signs in to its own areas", async () => {
  const areas = ["Customers", "Pipeline", "Cases", "Service settings", "Marketing", "Campaigns", "Partners", "Your requests"];
  const roles = [
    { role: "Administrator", home: "Customers", offered: ["Customers", "Pipeline", "Cases", "Service settings", "Marketing", "Campaigns", "Partners"] },
    { role: "Sales rep", home: "Customers", offered: ["Customers", "Pipeline"] },
    { role: "Sales manager", home: "Customers", offered: ["Customers", "Pipeline", "Marketing", "Campaigns", "Partners"] },
    { role: "Service agent", home: "Customers", offered: ["Customers", "Cases"] },
    { role: "Service manager", home: "Customers", offered: ["Customers", "Cases", "Service settings", "Marketing", "Campaigns"] },
    { role: "Marketer", home: "Customers", offered: ["Customers", "Marketing", "Campaigns"] },
    { role: "Channel manager", home: "Partner performance", offered: ["Partners"] },
    { role: "Partner user", home: "Partner performance", offered: ["Partners"], extra: { "Partner id": "p-1" } },
    { role: "Customer", home: "Your requests", offered: ["Your requests"], extra: { "Customer id": "c-1" } },
    { role: "Auditor", home: "Customers", offered: ["Customers", "Pipeline", "Cases", "Marketing", "Campaigns", "Partners"] },
  ];
  for (const { role, home, offered, extra } of roles) {
    const { page, errors } = await newPage();
    await devSignIn(page, suite.url, role, `user-${role.toLowerCase().replace(/ /g, "-")}`, extra);
    await page.getByRole("heading", { level: 1, name: home, exact: true }).waitFor();
    const nav = page.getByRole("navigation", { name: "CRM" });
    const shown = [];
    for (const area of areas) {
      if ((await nav.getByRole("link", { name: area, exact: true }).count()) > 0) shown.push(area);
    }
    assert.deepEqual(shown, offered, `${role}'s areas`);
    assert.deepEqual(await violations(page), [], `${role}'s home`);
    assert.deepEqual(errors, [], `${role}'s console`);
    await page.context().close();
  }
});

test("a Traditional Chinese browser gets the console in Chinese, and can switch", async () => {
  const { page, errors } = await newPage("zh-TW");
  await page.goto(suite.url);
  await page.getByRole("heading", { name: "登入", exact: true }).waitFor();
  assert.equal(await page.locator("html").getAttribute("lang"), "zh-TW");
  await page.getByLabel("語言").selectOption("en");
  await page.getByRole("heading", { name: "Sign in", exact: true }).waitFor();
  assert.equal(await page.locator("html").getAttribute("lang"), "en");
  assert.deepEqual(errors, []);
});

test("a telephony system opens the screen pop by the caller's number", async () => {
  const { page, errors } = await newPage();
  // Opened before anyone signs in: the page asks, then shows the call.
  await page.goto(`${suite.url}screen-pop?phone=${encodeURIComponent("+886912345678")}`);
  await page.getByRole("combobox", { name: "Role" }).click();
  await page.getByRole("option", { name: "Service agent" }).click();
  await page.getByLabel("User id").fill("agent-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Call from +886912345678" }).waitFor();
  await page.getByRole("link", { name: "Mei Lin" }).waitFor();
  await page.getByRole("region", { name: "Open cases" }).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "screen-pop.png") });

  // An unknown number says so and offers the search.
  await page.goto(`${suite.url}screen-pop?phone=${encodeURIComponent("+886900000000")}`);
  await page.getByText("No customer has this number.").waitFor();
  await page.getByRole("link", { name: "Search the customers" }).waitFor();

  // The customer's name leads to the 360.
  await page.goto(`${suite.url}screen-pop?phone=${encodeURIComponent("+886912345678")}`);
  await page.getByRole("link", { name: "Mei Lin" }).click();
  await page.getByRole("heading", { level: 1, name: /Mei Lin/ }).waitFor();
  assert.deepEqual(errors, []);
});

test("a customer is not offered the base, and searching it is refused", async () => {
  const { page } = await newPage();
  await page.goto(suite.url);
  await page.getByRole("combobox", { name: "Role" }).click();
  await page.getByRole("option", { name: "Customer", exact: true }).click();
  await page.getByLabel("User id").fill("mei");
  await page.getByLabel("Customer id").fill("not-mei");
  await page.getByRole("button", { name: "Sign in" }).click();
  // A customer's home is their own requests; the base is not on offer.
  await page.getByRole("heading", { level: 1, name: "Your requests" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Customers" }).count(), 0);
  // Typed by hand, the search is the service's to refuse, and the page says so.
  await page.goto(`${suite.url}customers?q=Lin`);
  await page.getByRole("alert").waitFor();
  assert.equal(await page.getByRole("link", { name: "Mei Lin" }).count(), 0);
});
