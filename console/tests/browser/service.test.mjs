// The service desk in Chromium against a real `crm up` whose SLA clocks run around the clock: a
// service manager sets up a queue and a one-minute response target, takes a call, opens a case
// from the screen pop, watches its SLA clock count down, and sees it escalate when the first
// response is overdue.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { OUTPUT, eventually, newPage, signIn, startSuite, violations } from "./suite.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const PHONE = "+886912345678";
let suite;
let browser;

before(async () => {
  suite = await startSuite({
    CRM_BUSINESS_HOURS: "mon-sun 00:00-24:00",
    CRM_ESCALATION_CHAIN: "supervisor=response,director=resolution",
    CRM_ESCALATION_INTERVAL: "2s",
  });
  suite.import("parties", [
    { external_id: "c-1", kind: "person", given_name: "Mei", family_name: "Lin", email: "mei.lin@example.com", phone: PHONE },
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await suite?.stop();
});

test("a case opened from the screen pop counts down its SLA and escalates when overdue", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Service manager", "sm-1");

  // The desk's settings: a queue, and a first response due within a minute for P1 cases.
  await page.getByRole("link", { name: "Service settings" }).click();
  const queues = page.getByRole("region", { name: "Queues" });
  await queues.getByLabel("Name").fill("Front line");
  await queues.getByLabel("Supervisor (user id)").fill("sm-1");
  await queues.getByRole("button", { name: "Add queue" }).click();
  await queues.getByRole("cell", { name: "Front line" }).waitFor();
  const sla = page.getByRole("region", { name: "SLA targets" });
  await sla.getByLabel("Priority").selectOption("1");
  await sla.getByLabel("First response (minutes)").fill("1");
  await sla.getByLabel("Resolution (minutes)").fill("30");
  await sla.getByRole("button", { name: "Set target" }).click();
  await sla.getByRole("row", { name: /Every tier P1 1 30/ }).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "service-settings.png"), fullPage: true });

  // The phone rings; the case is opened from the screen pop with the caller filled in.
  // The desk knows the caller once it has heard of the import: the pop is reloaded until then.
  await page.goto(`${suite.url}screen-pop?phone=${encodeURIComponent(PHONE)}`);
  const openCase = page.getByRole("link", { name: "Open a case for this call" });
  await eventually(page, openCase);
  await openCase.click();
  await page.getByRole("heading", { level: 1, name: "Open a case" }).waitFor();
  assert.equal(await page.getByLabel("Contact").inputValue(), PHONE);
  await page.getByLabel("Subject").fill("Laptop does not start");
  await page.getByLabel("Type").selectOption({ label: "Incident" });
  await page.getByLabel("Severity").selectOption("1");
  await page.getByLabel("Queue").selectOption({ label: "Front line" });
  assert.deepEqual(await violations(page), []);
  await page.getByRole("button", { name: "Open the case" }).click();

  // The case: P1, its response clock counting down.
  await page.getByRole("heading", { level: 1, name: /Laptop does not start/ }).waitFor();
  await page.getByRole("heading", { level: 1 }).getByText("P1").waitFor();
  const level = page.getByRole("region", { name: "Service level" });
  const clock = level.locator(".sla-clock").first();
  const first = await clock.textContent();
  assert.match(first, /^00:0[01]:\d\d left$/);
  await page.waitForFunction((before) => document.querySelector(".sla-clock")?.textContent !== before, first);
  await page.screenshot({ path: join(OUTPUT, "case.png"), fullPage: true });

  // A minute on, the first response is overdue and the scheduler escalates it to the supervisor;
  // the page shows it without being reloaded.
  await level.getByText("Overdue by", { exact: false }).first().waitFor({ timeout: 120_000 });
  await level.getByText("Supervisor").waitFor({ timeout: 60_000 });
  await page.getByRole("region", { name: "Timeline" }).getByText("Escalated").first().waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "case-escalated.png"), fullPage: true });

  // The queue lists it, escalated.
  await page.getByRole("link", { name: "Cases", exact: true }).click();
  await page.getByRole("link", { name: "Laptop does not start" }).waitFor();
  await page.getByText("Escalated to Supervisor").waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "cases.png"), fullPage: true });

  // Resolving it needs a resolution: the service says so beside the field.
  await page.getByRole("link", { name: "Laptop does not start" }).click();
  const work = page.getByRole("region", { name: "Work on the case" });
  await work.getByLabel("Status", { exact: true }).selectOption({ label: "Resolved" });
  await work.getByRole("button", { name: "Change status" }).click();
  await work.getByText("required to resolve a case").first().waitFor();
  await work.getByLabel("Resolution").fill("Replaced the power adapter.");
  await work.getByRole("button", { name: "Change status" }).click();
  await page.getByRole("heading", { level: 1 }).getByText("Resolved").waitFor();
  assert.deepEqual(errors, []);
});

test("a service manager reads the quarter's service report", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Service manager", "sm-1");
  await page.getByRole("link", { name: "Cases", exact: true }).click();
  await page.getByRole("link", { name: "Service report" }).click();
  await page.getByRole("heading", { level: 1, name: "Service report" }).waitFor();
  // The case the first test opened (and resolved) this quarter, by phone.
  const channels = page.getByRole("region", { name: "By channel" });
  await channels.getByRole("img", { name: /^By channel/ }).waitFor();
  assert.equal(await channels.getByRole("row").count(), 1);
  await page.getByRole("group", { name: "Cases opened" }).getByText("1", { exact: true }).waitFor();
  await page.getByRole("group", { name: "Resolved" }).getByText("1", { exact: true }).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "service-report.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("an agent calls through the follow-ups due and records each call", async () => {
  const { page, errors } = await newPage(browser);
  await signIn(page, suite.url, "Service agent", "agent-1");
  await page.getByRole("link", { name: "Cases", exact: true }).click();
  await page.getByRole("link", { name: "Call lists" }).click();
  const form = page.getByRole("form", { name: "New call list" });
  await form.getByLabel("Name").fill("Satisfaction calls");
  await form.getByLabel("Who").selectOption({ label: "Follow-ups due" });
  await form.getByRole("button", { name: "Build the list" }).click();

  // The case resolved in the first test is not rated yet: its customer is to be called.
  await page.getByRole("heading", { level: 1, name: "Satisfaction calls" }).waitFor();
  const mei = page.getByRole("row", { name: /Mei Lin/ });
  await mei.getByText("satisfaction follow-up").waitFor();
  await mei.getByRole("link", { name: /912345678$/ }).waitFor();
  assert.deepEqual(await violations(page), []);
  await page.screenshot({ path: join(OUTPUT, "call-list.png"), fullPage: true });

  const call = mei.getByRole("group", { name: "The call to Mei Lin" });
  await call.getByLabel("Outcome").selectOption({ label: "Reached" });
  await call.getByLabel("Note").fill("Happy with the fix; will rate it.");
  await call.getByRole("button", { name: "Record" }).click();
  await page.getByText("1 of 1 called").waitFor();
  await page.getByRole("checkbox", { name: "Only those still to call" }).check();
  await page.getByText("No one to call here.").waitFor();

  // The list keeps its progress among the lists.
  await page.getByRole("link", { name: "Back to the call lists" }).click();
  await page.getByRole("row", { name: /Satisfaction calls Follow-ups due .* 1 of 1 called/ }).waitFor();
  assert.deepEqual(errors, []);
});
