// The verifier on every bundle of the catalogue: the golden bundles of tests/custody,
// the revised-format bundles (one per check and custody rule) and the hostile ones.
// Each must give the recorded verdict and fail exactly the recorded checks; a hostile
// bundle ends in a clear `fail` or `error`, never a hang or a crash.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { CHECKS } from "../src/verify.js";
import { cases, failing, verifyCase } from "./support.mjs";

const all = cases();

for (const group of ["golden", "revised", "hostile"]) {
  describe(`${group} bundles`, () => {
    for (const item of all.filter((c) => c.group === group)) {
      test(item.name, { timeout: 120_000 }, async () => {
        const report = await verifyCase(item);
        const context = JSON.stringify({ error: report.error, checks: report.checks.map((c) => [c.id, c.status, c.findings.slice(0, 3)]) });
        assert.equal(report.verdict, item.verdict, context);
        if (report.verdict === "error") {
          assert.ok(report.error && report.error.length > 10, "an unreadable bundle says why");
          assert.ok(!report.error.startsWith("unexpected failure"), report.error);
          return;
        }
        assert.deepEqual(failing(report), item.failing, context);
        // Every check is reported, numbered 1-7 with the ids of the Python verifier.
        assert.deepEqual(report.checks.map((c) => [c.number, c.id]), CHECKS.map(([id], i) => [i + 1, id]));
        for (const check of report.checks.filter((c) => c.status === "fail")) assert.ok(check.findings.length > 0);
        assert.equal(report.policySource, item.policy ? "user" : "bundle");
      });
    }
  });
}

test("the catalogue covers every check and the hostile classes", () => {
  const failed = new Set(all.flatMap((c) => c.failing));
  assert.deepEqual([...failed].sort(), CHECKS.map(([id]) => id).sort());
  const hostile = all.filter((c) => c.group === "hostile").map((c) => c.name);
  for (const kind of ["bomb", "overlap", "unsafe-name", "symlink", "missing", "10000-deep", "2-pow-53", "duplicate", "not-utf8", "2-mib"]) {
    assert.ok(hostile.some((name) => name.includes(kind) || (kind === "overlap" && name.includes("one-local"))), kind);
  }
});

describe("reports say what they rest on", () => {
  const byName = new Map(all.map((c) => [c.name, c]));

  test("the bundle's own policy is named, and warned about", async () => {
    const report = await verifyCase(byName.get("valid-full-own"));
    assert.equal(report.verdict, "pass");
    assert.equal(report.policySource, "bundle");
    assert.ok(report.warnings.some((w) => /taken from the bundle/.test(w.message)));
    assert.deepEqual(report.cosigners, ["BE-1", "NL-1"]);
    assert.equal(report.operatorOnly, false);
  });

  test("a user's policy is named, with no warning about the bundle's", async () => {
    const report = await verifyCase(byName.get("valid-full-trusted"));
    assert.equal(report.policySource, "user");
    assert.deepEqual(report.warnings, []);
  });

  test("quorum none: the report says the bundle rests on the operator's key alone", async () => {
    const report = await verifyCase(byName.get("valid-no-witnesses-own"));
    assert.equal(report.verdict, "pass");
    assert.equal(report.operatorOnly, true);
    assert.ok(report.warnings.some((w) => /log operator's key alone/.test(w.message)));
  });

  test("the warnings of spec 6 are reported and do not fail", async () => {
    const report = await verifyCase(byName.get("valid-with-warnings-trusted"));
    assert.equal(report.verdict, "pass");
    const text = report.warnings.map((w) => w.message).join("\n");
    assert.match(text, /unknown event type 'exhibit.tagged'/);
    assert.match(text, /storage altered/);
    assert.match(text, /more than a day older/);
    assert.match(text, /stops at tree_size 27 of a log of 31/);
    assert.equal(report.warnings.length, 4);
  });

  test("a selective bundle says which rules it checked only in part", async () => {
    const report = await verifyCase(byName.get("valid-selective-trusted"));
    assert.equal(report.verdict, "pass");
    const replay = report.checks.find((c) => c.id === "replay");
    assert.match(replay.detail, /checked in part/);
    assert.match(replay.detail, /withheld/);
  });

  test("each custody rule names the entry that breaks it", async () => {
    const expected = {
      "fail-7-party-added-without-consent-own": /FR added without the consent of BE, DE/,
      "fail-7-party-removed-by-another-own": /only the withdrawing state/,
      "fail-7-grant-for-another-state-own": /grants access for its own jurisdiction only/,
      "fail-7-defence-access-outside-grant-own": /no grant lists this exhibit/,
      "fail-7-court-access-unshared-exhibit-own": /granting state NL neither owned it/,
      "fail-7-hold-released-by-another-state-own": /set by NL released by BE/,
      "fail-7-judge-hold-released-by-prosecutor-own": /set by a judge released by a prosecutor/,
      "fail-7-hold-released-twice-own": /no open hold/,
      "fail-7-disposed-under-hold-own": /disposed while hold \d+ is open/,
      "fail-7-event-after-disposal-own": /after it was disposed/,
      "fail-7-ingest-after-seal-own": /ingested after it was sealed/,
      "fail-7-second-ingest-own": /ingested a second time/,
      "fail-7-access-without-share-own": /neither owned it nor held an unrevoked share/,
    };
    for (const [name, pattern] of Object.entries(expected)) {
      const report = await verifyCase(byName.get(name));
      const replay = report.checks.find((c) => c.id === "replay");
      assert.ok(replay.findings.some((f) => pattern.test(f.message)), `${name}: ${JSON.stringify(replay.findings)}`);
    }
  });
});
