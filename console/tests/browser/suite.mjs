// A real `crm up` for the browser tests: its own data directory and ports, a few customers
// imported through the import API, and the console URL it prints.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import AxeBuilder from "@axe-core/playwright";

/** The `crm` binary under test. */
const CRM = process.env.CRM_BIN ?? "../target/release/crm";
/** Where screenshots are kept. */
export const OUTPUT = process.env.CONSOLE_TEST_OUTPUT ?? join(tmpdir(), "crm-console-test-output");
mkdirSync(OUTPUT, { recursive: true });

async function freePortBase() {
  // Six consecutive ports from a free one; `crm up` replaces any taken since.
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(Math.min(port, 60000)));
    });
  });
}

/** Starts `crm up` (with the settings in `env` besides this process's environment) and waits
 * for its console line. A start that fails before then (another test's suite took a port of
 * the range between the check and the bind) is tried again on fresh ports, in a fresh directory. */
export async function startSuite(env = {}) {
  let failure;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // A fresh directory each time: a retry starts like the first attempt, not over the
      // databases and streams of a start that failed half-way.
      return await launch(mkdtempSync(join(tmpdir(), "crm-console-")), env);
    } catch (err) {
      failure = err;
    }
  }
  throw failure;
}

async function launch(dataDir, env) {
  const portBase = await freePortBase();
  const child = spawn(CRM, ["up", "--data-dir", dataDir, "--port-base", String(portBase)], {
    env: { ...process.env, RUST_LOG: "warn", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let out = "";
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`crm up did not print its console:\n${out}`)), 120_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      // The console's line comes before the development token's.
      const found = out.match(/console\s+(http:\/\/\S+)/);
      if (found && /development admin token \(12h\):\n\S+\n/.test(out)) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`crm up exited (${code}):\n${out}`));
    });
  });
  let url;
  try {
    url = await ready;
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw err;
  }
  const token = out.match(/development admin token \(12h\):\n(\S+)/)[1];
  return {
    url,
    token,
    gateway: url.replace(/\/$/, ""),
    /** Stops the suite and waits until it has let go of its ports. */
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
    /** Imports `rows` that name records of another service (orders naming partners), once
     * the importing service has heard of them: its rejections are retried, the import being
     * idempotent per source and external id. */
    async importWhenKnown(entity, rows, attempts = 120) {
      for (let i = 1; ; i++) {
        try {
          return this.import(entity, rows);
        } catch (err) {
          if (i >= attempts) throw err;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    },
    /** Imports `rows` (objects of one entity) through `crm import`. */
    import(entity, rows) {
      const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      const csv = [columns.join(","), ...rows.map((r) => columns.map((c) => r[c] ?? "").join(","))].join("\n");
      const file = join(dataDir, `${entity}.csv`);
      writeFileSync(file, csv + "\n");
      execFileSync(CRM, ["import", entity, file, "--url", url.replace(/\/$/, ""), "--token", token, "--source", "console_test"], {
        stdio: "inherit",
      });
    },
  };
}

/** A Chromium page that records every console error, at laptop width unless told. */
export async function newPage(browser, { locale = "en-US", width = 1280, height = 800 } = {}) {
  const context = await browser.newContext({ locale, viewport: { width, height } });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  return { page, errors };
}

/** Serious or critical accessibility violations on the page as it is. */
export async function violations(page) {
  const { violations } = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21aa"]).analyze();
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

/** Signs in through `crm up`'s development sign-in. */
export async function signIn(page, url, role, user, extra = {}) {
  await page.goto(url);
  await page.getByRole("combobox", { name: "Role" }).click();
  await page.getByRole("option", { name: role, exact: true }).click();
  await page.getByLabel("User id").fill(user);
  for (const [label, value] of Object.entries(extra)) await page.getByLabel(label).fill(value);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Signed in once the console offers to sign out: a test that navigates on at once would
  // otherwise abort the sign-in under way and land on the sign-in page.
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** Reloads `page` (or does `again`) until `locator` shows, for work the suite does in the
 * background after an import (duplicate checks, ranking, name search): behaviour awaited, with a
 * bound only against a hang. */
export async function eventually(page, locator, again = () => page.reload(), attempts = 30) {
  for (let i = 0; ; i++) {
    try {
      await locator.first().waitFor({ timeout: 2_000 });
      return;
    } catch (err) {
      if (i >= attempts) throw err;
      await again();
    }
  }
}
