#!/usr/bin/env node
// Run the browser verifier under Node, for the tests, the cross-check and by hand.
//
//   node cli.mjs BUNDLE.zip [--policy POLICY.txt] [--json]
//   node cli.mjs --cases CASES.json        (a JSON list of {name, file, policy}; prints
//                                           one JSON object of reports keyed by name)
//
// Exit codes as `jitc verify`: 0 pass, 1 fail, 2 unreadable.

import { openAsBlob } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";

import { formatReport } from "./src/text.js";
import { verifyBundle } from "./src/verify.js";

async function verifyFile(file, policyFile) {
  let blob;
  try {
    blob = await openAsBlob(file);
  } catch (error) {
    return { verdict: "error", ok: false, unreadable: true, error: `cannot open ${file}: ${error.message}`, checks: [], warnings: [] };
  }
  const policy = policyFile ? await readFile(policyFile) : null;
  return verifyBundle(blob, { policy: policy === null ? null : new Uint8Array(policy) });
}

async function main(argv) {
  if (argv[0] === "--cases") {
    const listing = argv[1];
    const base = path.dirname(listing);
    const cases = JSON.parse(await readFile(listing, "utf8"));
    const out = {};
    for (const item of cases) {
      const policy = item.policy ? path.resolve(base, item.policy) : null;
      out[item.name] = await verifyFile(path.resolve(base, item.file), policy);
    }
    process.stdout.write(JSON.stringify(out) + "\n");
    return 0;
  }
  const args = [...argv];
  const json = args.includes("--json");
  const at = args.indexOf("--policy");
  const policy = at >= 0 ? args[at + 1] : null;
  const files = args.filter((arg, i) => arg !== "--json" && arg !== "--policy" && (at < 0 || i !== at + 1));
  if (files.length !== 1) {
    process.stderr.write("usage: node cli.mjs BUNDLE.zip [--policy POLICY.txt] [--json] | --cases CASES.json\n");
    return 2;
  }
  const report = await verifyFile(files[0], policy);
  if (json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else if (report.unreadable) process.stderr.write(`verify: cannot read input: ${report.error}\n`);
  else process.stdout.write(formatReport(report) + "\n");
  return report.verdict === "pass" ? 0 : report.verdict === "fail" ? 1 : 2;
}

// exitCode, not exit(): a pipe must drain the report before the process ends.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`verify: ${error && error.stack}\n`);
    process.exitCode = 3;
  },
);
