// Customers beyond the 360 in Chromium against a real `crm up`: the relationship network as a
// graph (hops, the shortest path, the group tree), duplicates merged by a manager, and the value
// pyramid once the imported orders are ranked.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { OUTPUT, eventually, newPage, signIn, startSuite, violations } from "./suite.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
let suite;
let browser;

before(async () => {
  // Ranking follows imported orders within a second rather than the default half minute.
  suite = await startSuite({ CRM_VALUE_REFRESH_INTERVAL: "1s" });
  suite.import("parties", [
    { external_id: "g-1", kind: "organization", organization_name: "Acme Group" },
    { external_id: "g-2", kind: "organization", organization_name: "Acme Taiwan" },
    { external_id: "p-1", kind: "person", given_name: "Mei", family_name: "Lin", email: "mei.lin@example.com" },
    { external_id: "p-2", kind: "person", given_name: "Wei", family_name: "Chen", email: "wei.chen@example.com" },
    // The same person entered twice, with the same e-mail.
    { external_id: "p-3", kind: "person", given_name: "May", family_name: "Lin", email: "mei.lin@example.com" },
  ]);
  suite.import("relationships", [
    { external_id: "r-1", from_external_id: "g-2", to_external_id: "g-1", type: "subsidiary_of" },
    { external_id: "r-2", from_external_id: "p-1", to_external_id: "g-2", type: "employee_of", role: "CFO" },
    { external_id: "r-3", from_external_id: "p-2", to_external_id: "p-1", type: "knows" },
  ]);
  const month = new Date(Date.now() - 30 * 86_400_000).toISOString();
  suite.import("orders", [
    { external_id: "so-1", party_external_id: "p-1", placed_at: month, currency: "USD", amount: "1200" },
    { external_id: "so-2", party_external_id: "p-1", placed_at: month, currency: "USD", amount: "800" },
    { external_id: "so-3", party_external_id: "p-2", placed_at: month, currency: "USD", amount: "150" },
    { external_id: "so-4", party_external_id: "g-1", placed_at: month, currency: "USD", amount: "90" },
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await suite?.stop();
});

test("an administrator explores a customer's relationship network", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Administrator", "dev-admin");
  await page.getByLabel("Search by name, e-mail or phone").fill("wei.chen@example.com");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("link", { name: "Wei Chen", exact: true }).click();
  await page.getByRole("link", { name: "Relationship network" }).click();
  await page.getByRole("heading", { level: 1, name: "Relationships of Wei Chen" }).waitFor();
  // Each party of the network links to its 360.
  await page.getByRole("region", { name: "Network" }).getByRole("link", { name: "Mei Lin" }).click();
  await page.getByRole("heading", { level: 1, name: /Mei Lin/ }).waitFor();
  await page.getByRole("link", { name: "Relationship network" }).click();
  await page.getByRole("heading", { level: 1, name: "Relationships of Mei Lin" }).waitFor();

  // Within two hops: the employer and the colleague at one, the group's top at two.
  const network = page.getByRole("region", { name: "Network" });
  await network.getByRole("img", { name: /^The relationship network of Mei Lin within 2 hops/ }).waitFor();
  await network.getByRole("row", { name: "Acme Taiwan 1 Mei Lin · employee of (CFO) · Acme Taiwan" }).waitFor();
  await network.getByRole("row", { name: "Wei Chen 1 Wei Chen · knows · Mei Lin" }).waitFor();
  await network.getByRole("row", { name: "Acme Group 2 Acme Taiwan · subsidiary of · Acme Group" }).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "network.png"), fullPage: true });

  // One hop: the group's top is out of reach.
  await network.getByLabel("Hops", { exact: true }).selectOption("1");
  await network.getByRole("img", { name: /within 1 hops/ }).waitFor();
  await network.getByRole("row", { name: /^Acme Taiwan 1/ }).waitFor();
  assert.equal(await network.getByRole("row", { name: /^Acme Group/ }).count(), 0);

  // The shortest path to the group's top, step by step, though it is beyond the hops shown.
  const path = page.getByRole("region", { name: "Shortest path" });
  await path.getByLabel("Path to another customer").fill("Acme Group");
  const search = path.getByRole("button", { name: "Search" });
  await search.click();
  // Imported names join the name search in the background: search again until they have.
  const target = path.getByRole("button", { name: "Acme Group" });
  await eventually(page, target, () => search.click());
  await target.click();
  const steps = path.getByRole("list", { name: "Shortest path" }).getByRole("listitem");
  await steps.nth(2).waitFor();
  assert.deepEqual(await steps.allInnerTexts(), ["Mei Lin", "employee of (CFO) · Acme Taiwan", "subsidiary of · Acme Group"]);
  await network.getByRole("row", { name: /^Acme Group 2/ }).waitFor();

  // The group the employer belongs to, as a tree from its top.
  await network.getByRole("link", { name: "Acme Taiwan" }).click();
  await page.getByRole("heading", { level: 1, name: /Acme Taiwan/ }).waitFor();
  await page.getByRole("link", { name: "Relationship network" }).click();
  const group = page.getByRole("region", { name: "Group" });
  await group.getByRole("img", { name: /^The group tree of Acme Group/ }).waitFor();
  await group.getByRole("list").getByRole("link", { name: "Acme Group" }).waitFor();
  await group.getByRole("list").getByText("Acme Taiwan", { exact: true }).waitFor();
  assert.deepEqual(await violations(page), []);
  assert.deepEqual(errors, []);
});

test("a sales manager merges a customer entered twice", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Sales manager", "mgr-1");
  await page.getByRole("link", { name: "Duplicates" }).click();
  await page.getByRole("heading", { level: 1, name: "Duplicates" }).waitFor();
  // The import's duplicate check runs in the background: the group appears once it has.
  const group = page.getByRole("region", { name: /^(Mei Lin · May Lin|May Lin · Mei Lin)$/ });
  await eventually(page, group);
  await group.getByText("Same e-mail").waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "duplicates.png"), fullPage: true });

  await group.getByRole("radio", { name: "Keep Mei Lin" }).check();
  await group.getByRole("button", { name: "Merge 1 record into the kept one" }).click();
  await page.getByRole("status").filter({ hasText: "Merged into Mei Lin." }).waitFor();
  await page.reload();
  await page.getByText("No duplicates found.").waitFor();

  // The survivor answers; the merged record is no longer found.
  await page.getByRole("link", { name: "Search" }).click();
  await page.getByLabel("Search by name, e-mail or phone").fill("mei.lin@example.com");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("link", { name: "Mei Lin", exact: true }).waitFor();
  assert.equal(await page.getByRole("link", { name: "May Lin" }).count(), 0);
  assert.deepEqual(errors, []);
});

test("the value pyramid ranks the customers by what they bring", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Administrator", "dev-admin");
  await page.getByRole("link", { name: "Value pyramid" }).click();
  await page.getByRole("heading", { level: 1, name: "Value pyramid" }).waitFor();
  // Ranked after the imported orders are in.
  await eventually(page, page.getByRole("group", { name: "Customers ranked" }));
  // Three customers bought: Mei Lin, Wei Chen and Acme Group.
  await page.getByRole("group", { name: "Customers ranked" }).getByText("3", { exact: true }).waitFor();
  await page.getByRole("img", { name: /^The value pyramid/ }).waitFor();
  const tiers = page.getByRole("region", { name: "Tiers" });
  assert.ok((await tiers.getByRole("row").count()) >= 2, "a head and at least one tier");
  await page.getByRole("group", { name: "Pareto" }).getByText(/^20\//).waitFor();
  await page.getByRole("region", { name: /^Moves between tiers/ }).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "value-pyramid.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

/** Exports the people as an administrator on a page `prepare`d first; their lines and what the status said. */
async function exportPeople(prepare, save) {
  const { page, errors } = await newPage(browser);
  await prepare(page);
  await signIn(page, suite.url, "Administrator", "dev-admin");
  await page.getByRole("link", { name: "Export" }).click();
  await page.getByRole("heading", { level: 1, name: "Export" }).waitFor();
  await page.getByLabel("Kind").selectOption({ label: "People" });
  assert.deepEqual(await violations(page), []);
  const [name, text] = await save(page, () => page.getByRole("button", { name: "Export", exact: true }).click());
  const status = await page.getByRole("status").filter({ hasText: /customers exported/ }).textContent();
  assert.deepEqual(errors, []);
  return { name, lines: text.trimEnd().split("\r\n"), status };
}

test("the customers a filter selects are exported as a file the importer reads", async () => {
  // Where the browser writes files, the export goes to the one chosen in the save dialog as it
  // arrives. The dialog cannot be driven headless: it hands out a file of the page's own
  // private file system instead, written and read back through the same API.
  const written = await exportPeople(
    (page) =>
      page.addInitScript(() => {
        window.showSaveFilePicker = async ({ suggestedName }) => {
          window.savedAs = suggestedName;
          return (await navigator.storage.getDirectory()).getFileHandle(suggestedName, { create: true });
        };
      }),
    async (page, click) => {
      await click();
      await page.getByRole("status").filter({ hasText: /customers exported/ }).waitFor();
      return page.evaluate(async () => {
        const handle = await (await navigator.storage.getDirectory()).getFileHandle(window.savedAs);
        return [window.savedAs, await (await handle.getFile()).text()];
      });
    },
  );
  assert.match(written.name, /^customers-\d{4}-\d{2}-\d{2}\.csv$/);
  const { lines, status } = written;
  assert.equal(lines[0].split(",").slice(0, 7).join(","), "external_id,kind,given_name,family_name,organization_name,email,phone");
  // People only: the organisations are left out.
  assert.ok(lines.slice(1).every((l) => l.split(",")[1] === "person"), lines.join("\n"));
  assert.ok(lines.some((l) => l.includes(",Wei,Chen,,wei.chen@example.com,")), lines.join("\n"));
  assert.equal(status, `${lines.length - 1} customers exported.`);

  // Elsewhere, the same file as a download.
  const downloaded = await exportPeople(
    (page) => page.addInitScript(() => (window.showSaveFilePicker = undefined)),
    async (page, click) => {
      const [download] = await Promise.all([page.waitForEvent("download"), click()]);
      return [download.suggestedFilename(), readFileSync(await download.path(), "utf8")];
    },
  );
  assert.equal(downloaded.name, written.name);
  assert.deepEqual(downloaded.lines, lines);
});

test("a data steward checks a file, imports it, and saves the rows refused", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Data steward", "steward-1");
  await page.getByRole("link", { name: "Import", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Import" }).waitFor();
  const form = page.getByRole("form", { name: "Import" });
  await form.getByLabel("What the file holds").selectOption("parties");
  await form.getByText(/^external_id, kind, given_name/).waitFor();
  const people = [
    "external_id,kind,given_name,family_name,email,shoe_size",
    "u-1,person,Ana,Silva,ana.silva@example.com,38",
    "u-2,person,Bad,Mail,not-an-address,41",
    "u-3,person,Ken,Wu,ken.wu@example.com,",
  ].join("\n");
  await form.getByLabel("File (CSV or JSON lines)").setInputFiles({ name: "people.csv", mimeType: "text/csv", buffer: Buffer.from(people) });

  // Checked first: nothing stored.
  await form.getByLabel("Check only, store nothing").check();
  await form.getByRole("button", { name: "Check" }).click();
  await page.getByRole("status").filter({ hasText: "Checked: 2 would be created, 0 updated, 0 unchanged, 1 refused. Nothing was stored." }).waitFor();
  await page.getByText("The importer does not know these columns and left them out: shoe_size.").waitFor();
  const refused = page.getByRole("region", { name: "Refused rows" });
  await refused.getByRole("row", { name: /^3 email: / }).waitFor();
  assert.deepEqual(await violations(page), []);

  await form.getByLabel("Check only, store nothing").uncheck();
  await form.getByRole("button", { name: "Import" }).click();
  await page.getByRole("status").filter({ hasText: "2 created, 0 updated, 0 unchanged, 1 refused." }).waitFor();
  await page.screenshot({ path: join(OUTPUT, "import.png"), fullPage: true });
  const [download] = await Promise.all([page.waitForEvent("download"), refused.getByRole("button", { name: "Save the refused rows" }).click()]);
  assert.equal(download.suggestedFilename(), "people.rejected.csv");
  const lines = readFileSync(await download.path(), "utf8").trimEnd().split("\r\n");
  assert.equal(lines[0], "line,reason");
  assert.match(lines[1], /^3,email: /);
  assert.equal(lines.length, 2);

  // The same file again changes nothing.
  await form.getByRole("button", { name: "Import" }).click();
  await page.getByRole("status").filter({ hasText: "0 created, 0 updated, 2 unchanged, 1 refused." }).waitFor();

  // The imported customer is found.
  await page.getByRole("link", { name: "Customers", exact: true }).click();
  await page.getByLabel("Search by name, e-mail or phone").fill("ken.wu@example.com");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("link", { name: "Ken Wu", exact: true }).waitFor();
  assert.deepEqual(errors, []);
});

test("only those who may import are offered the import", async () => {
  const { page } = await newPage(browser);
  await signIn(page, suite.url, "Sales manager", "mgr-2");
  await page.getByRole("link", { name: "Customers", exact: true }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Import", exact: true }).count(), 0);
});
