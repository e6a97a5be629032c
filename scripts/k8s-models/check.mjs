// Checks the operators' objects of rendered manifests against the operators' own schemas:
// CloudNativePG's (clusters, backups) and the Prometheus Operator's (monitors, rules).
//
// Two checks, as the API server and the operator would make them: each object's values against
// the schema (types, enums, patterns), and, through the TypeScript compiler's excess-property
// check on the models' interfaces, that it names no field the schema lacks. The CRDs accept
// unknown fields silently (a misspelt `backup` key would leave a cluster without backups), so
// the second check is the one that matters.
//
// Usage: node check.mjs RENDERED.yaml... (run from the directory the models are installed in).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";

const here = new URL(".", import.meta.url).pathname;

/** The model package of each operator's API group. */
const PACKAGES = {
  "postgresql.cnpg.io": "@kubernetes-models/cloudnative-pg",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

let failed = false;
const objects = [];
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(readFileSync(file, "utf8"))) {
    if (!doc) continue;
    const [group, version] = doc.apiVersion.split("/");
    if (!(group in PACKAGES)) continue;
    const module = `${PACKAGES[group]}/${group}/${version}/${doc.kind}`;
    const where = `${file}: ${doc.kind} ${doc.metadata?.name}`;
    let Model;
    try {
      Model = (await import(module))[doc.kind];
    } catch {
      console.error(`${where}: no schema for ${doc.apiVersion} ${doc.kind}`);
      failed = true;
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (err) {
      console.error(`${where}: ${err.message}`);
      failed = true;
    }
    objects.push({ module, kind: doc.kind, doc, where });
  }
}

// Unknown fields: each object as a literal of its model's interface.
const dir = mkdtempSync(join(here, "check-"));
try {
  const lines = [];
  objects.forEach(({ module, kind, doc, where }, i) => {
    lines.push(`// ${where}`);
    lines.push(`import type { I${kind} as T${i} } from "${module}";`);
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(doc, null, 1)};`);
  });
  writeFileSync(join(dir, "objects.ts"), lines.join("\n") + "\n");
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: "nodenext",
        moduleResolution: "nodenext",
        skipLibCheck: true,
        target: "es2022",
      },
      files: ["objects.ts"],
    }),
  );
  try {
    execFileSync(join(here, "node_modules/.bin/tsc"), ["-p", dir], { encoding: "utf8" });
  } catch (err) {
    // Each error names the line of the object; the comment above it names the object.
    const source = readFileSync(join(dir, "objects.ts"), "utf8").split("\n");
    for (const line of `${err.stdout}`.split("\n").filter(Boolean)) {
      const at = /objects\.ts\((\d+),/.exec(line);
      let owner = "";
      if (at) {
        for (let n = Number(at[1]) - 1; n >= 0; n--) {
          if (source[n].startsWith("// ")) {
            owner = source[n].slice(3);
            break;
          }
        }
      }
      console.error(`${owner}: ${line.replace(/^.*error /, "")}`);
    }
    failed = true;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${objects.length} operator objects checked`);
process.exit(failed ? 1 : 0);
