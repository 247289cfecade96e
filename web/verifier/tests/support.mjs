// Shared by the Node tests: the catalogue of bundles (written by the Python side, so that
// both verifiers see the same files) and a way to verify one file.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openAsBlob, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { verifyBundle } from "../src/verify.js";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const C2SP = path.join(REPO, "tests/custody/data/c2sp");
export const MERKLE = path.join(REPO, "tests/custody/data/merkle");

let catalogue = null;

/**
 * The directory with cases.json and the bundles: $JITC_CATALOGUE when set, otherwise
 * written now by `python -m tests.webverify.catalogue` ($JITC_PYTHON, else the
 * checkout's .venv, else python3).
 */
export function catalogueDir() {
  if (catalogue !== null) return catalogue;
  if (process.env.JITC_CATALOGUE) {
    catalogue = process.env.JITC_CATALOGUE;
    return catalogue;
  }
  const venv = path.join(REPO, ".venv/bin/python");
  const python = process.env.JITC_PYTHON || (existsSync(venv) ? venv : "python3");
  const out = mkdtempSync(path.join(tmpdir(), "jitc-catalogue-"));
  const run = spawnSync(python, ["-m", "tests.webverify.catalogue", out], { cwd: REPO, encoding: "utf8" });
  if (run.status !== 0) {
    throw new Error(`writing the bundle catalogue with ${python} failed (install the project: bash scripts/test, or set JITC_PYTHON): ${run.stderr || run.error}`);
  }
  catalogue = out;
  return catalogue;
}

export function cases() {
  return JSON.parse(readFileSync(path.join(catalogueDir(), "cases.json"), "utf8"));
}

export async function verifyCase(item) {
  const dir = catalogueDir();
  const blob = await openAsBlob(path.join(dir, item.file));
  const policy = item.policy ? new Uint8Array(readFileSync(path.join(dir, item.policy))) : null;
  return verifyBundle(blob, { policy });
}

export function failing(report) {
  return report.checks.filter((check) => check.status === "fail").map((check) => check.id).sort();
}
