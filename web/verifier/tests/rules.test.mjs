// The rules of the revision of 2026-12-04 (spec 2.1, 5, 6), each on a small bundle
// written in this file: the lawful story passes, the unlawful one fails the numbered check
// the spec names, and the finding names the entry that breaks the rule.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, beforeEach, describe, test } from "node:test";

import { headline } from "../src/text.js";
import { verifyBundle } from "../src/verify.js";
import { Forge, actor } from "./forge.mjs";

const NL_PROSECUTOR = actor("NL", "prosecutor");
const BE_PROSECUTOR = actor("BE", "prosecutor");
const DE_PROSECUTOR = actor("DE", "prosecutor");
const NL_JUDGE = actor("NL", "judge");
const BE_JUDGE = actor("BE", "judge");
const NL_DEFENCE = actor("NL", "defence");
const READ = { purpose: "review", range: null };

// With $JITC_FORGE_OUT set, every bundle verified here is written there too, with a
// cases.json in the catalogue's form, so that the cross-check runs the Python verifier
// over these bundles as well (tests/webverify/test_crosscheck.py).
const OUT = process.env.JITC_FORGE_OUT || null;
const written = [];
let current = "";
beforeEach((t) => {
  current = t.name;
});

async function verify(forge, options = {}) {
  const { trusted = true, ...bundle } = options;
  // trusted: true for the case's own policy given by the user, a text for another, false for none.
  const policy = trusted === false ? null : new TextEncoder().encode(trusted === true ? forge.policy() : trusted);
  const zip = forge.bundle(bundle);
  const report = await verifyBundle(new Blob([zip]), { policy });
  if (OUT !== null) record(zip, policy, report);
  return report;
}

function record(zip, policy, report) {
  // Named after the test, numbered within it: stable names the cross-check can cite.
  const stem = `forge-${current.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 80)}`;
  const name = `${stem}-${written.filter((c) => c.name.startsWith(`${stem}-`)).length + 1}`;
  writeFileSync(path.join(OUT, `${name}.zip`), zip);
  if (policy !== null) writeFileSync(path.join(OUT, `${name}-policy.txt`), policy);
  const failing = report.checks ? report.checks.filter((c) => c.status === "fail").map((c) => c.id).sort() : [];
  written.push({ name, file: `${name}.zip`, policy: policy === null ? null : `${name}-policy.txt`, verdict: report.verdict, failing, group: "forge", why: "" });
}

after(() => {
  if (OUT !== null) writeFileSync(path.join(OUT, "cases.json"), JSON.stringify(written, null, 1));
});

const failing = (report) => report.checks.filter((c) => c.status === "fail").map((c) => c.number);
const findings = (report, number) => report.checks[number - 1].findings;

/** The report passes, or fails exactly `numbers`, with a finding at `seq` matching `pattern`. */
function expect(report, numbers = [], pattern = null, seq = undefined) {
  const context = JSON.stringify(report.checks.map((c) => [c.number, c.status, c.findings]));
  assert.deepEqual(failing(report), numbers, context);
  assert.equal(report.verdict, numbers.length ? "fail" : "pass");
  if (pattern === null) return;
  const hit = findings(report, numbers[0]).find((f) => pattern.test(f.message));
  assert.ok(hit, context);
  if (seq !== undefined) assert.equal(hit.seq, seq, context);
}

describe("party changes (spec 6.7)", () => {
  test("a state added with the consent of every party state passes", async () => {
    const forge = new Forge();
    const proposal = forge.add(NL_PROSECUTOR, "case.party_proposed", null, { jurisdiction: "FR" });
    forge.add(BE_PROSECUTOR, "case.party_approved", null, { proposal });
    forge.add(NL_PROSECUTOR, "case.party_added", null, { jurisdiction: "FR", proposal });
    expect(await verify(forge));
  });

  test("a state added without one party's consent fails check 7 at the party_added", async () => {
    const forge = new Forge({ parties: ["NL", "BE", "DE"] });
    const proposal = forge.add(NL_PROSECUTOR, "case.party_proposed", null, { jurisdiction: "FR" });
    forge.add(BE_PROSECUTOR, "case.party_approved", null, { proposal });
    const added = forge.add(BE_PROSECUTOR, "case.party_added", null, { jurisdiction: "FR", proposal });
    expect(await verify(forge), [7], /FR added without the consent of DE/, added);
  });

  test("consent counts from the states that were parties when the proposal was made", async () => {
    // DE joined after FR was proposed: its approval does not stand in for BE's.
    const forge = new Forge();
    const first = forge.add(NL_PROSECUTOR, "case.party_proposed", null, { jurisdiction: "DE" });
    forge.add(BE_PROSECUTOR, "case.party_approved", null, { proposal: first });
    forge.add(BE_PROSECUTOR, "case.party_added", null, { jurisdiction: "DE", proposal: first });
    const second = forge.add(NL_PROSECUTOR, "case.party_proposed", null, { jurisdiction: "FR" });
    forge.add(DE_PROSECUTOR, "case.party_approved", null, { proposal: second });
    const added = forge.add(DE_PROSECUTOR, "case.party_added", null, { jurisdiction: "FR", proposal: second });
    expect(await verify(forge), [7], /FR added without the consent of BE/, added);
  });

  test("a party_added naming no proposal, or a proposal of another state, fails", async () => {
    const forge = new Forge();
    const proposal = forge.add(NL_PROSECUTOR, "case.party_proposed", null, { jurisdiction: "FR" });
    forge.add(BE_PROSECUTOR, "case.party_approved", null, { proposal });
    const wrong = forge.add(NL_PROSECUTOR, "case.party_added", null, { jurisdiction: "DE", proposal });
    const none = forge.add(NL_PROSECUTOR, "case.party_added", null, { jurisdiction: "IT", proposal: 0 });
    const report = await verify(forge);
    expect(report, [7], /which proposed FR/, wrong);
    assert.ok(findings(report, 7).some((f) => f.seq === none && /no open case.party_proposed/.test(f.message)));
  });

  test("consent is given by a prosecutor: a judge's approval, or an investigator's proposal, is none", async () => {
    const judged = new Forge();
    const first = judged.add(NL_PROSECUTOR, "case.party_proposed", null, { jurisdiction: "FR" });
    judged.add(BE_JUDGE, "case.party_approved", null, { proposal: first });
    const added = judged.add(NL_PROSECUTOR, "case.party_added", null, { jurisdiction: "FR", proposal: first });
    expect(await verify(judged), [7], /FR added without the consent of BE/, added);
    const investigated = new Forge();
    const second = investigated.add(actor("NL", "investigator"), "case.party_proposed", null, { jurisdiction: "FR" });
    investigated.add(BE_PROSECUTOR, "case.party_approved", null, { proposal: second });
    const late = investigated.add(BE_PROSECUTOR, "case.party_added", null, { jurisdiction: "FR", proposal: second });
    expect(await verify(investigated), [7], /FR added without the consent of NL/, late);
  });

  test("an addition ends its proposal: a second addition on it fails", async () => {
    const forge = new Forge();
    const proposal = forge.add(NL_PROSECUTOR, "case.party_proposed", null, { jurisdiction: "FR" });
    forge.add(BE_PROSECUTOR, "case.party_approved", null, { proposal });
    forge.add(BE_PROSECUTOR, "case.party_added", null, { jurisdiction: "FR", proposal });
    const again = forge.add(NL_PROSECUTOR, "case.party_added", null, { jurisdiction: "FR", proposal });
    expect(await verify(forge), [7], /no open case.party_proposed/, again);
  });

  test("the last party cannot withdraw: a case keeps at least one party (spec 2.1)", async () => {
    const forge = new Forge();
    forge.add(NL_PROSECUTOR, "case.party_removed", null, { jurisdiction: "NL" });
    const last = forge.add(BE_PROSECUTOR, "case.party_removed", null, { jurisdiction: "BE" });
    expect(await verify(forge), [7], /BE withdrew as the last party/, last);
  });

  test("a state withdraws itself; removing another state fails check 7", async () => {
    const own = new Forge();
    own.add(BE_PROSECUTOR, "case.party_removed", null, { jurisdiction: "BE" });
    expect(await verify(own));
    const other = new Forge();
    const removed = other.add(NL_PROSECUTOR, "case.party_removed", null, { jurisdiction: "BE" });
    expect(await verify(other), [7], /only the withdrawing state/, removed);
  });
});

describe("court and defence grants (spec 6.7)", () => {
  test("a judge reads an exhibit of the granting state under a grant for all of them", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    forge.add(NL_PROSECUTOR, "case.access_granted", null, { jurisdiction: "NL", sub: NL_JUDGE.sub, role: "judge", exhibits: null });
    forge.add(NL_JUDGE, "exhibit.accessed", "E1", READ);
    expect(await verify(forge));
  });

  test("a grant for another state's courts fails, and gives no access", async () => {
    const forge = new Forge();
    forge.exhibit("E1", "BE");
    forge.add(BE_PROSECUTOR, "exhibit.shared", "E1", { jurisdiction: "NL", conditions: "" });
    const grant = forge.add(BE_PROSECUTOR, "case.access_granted", null, { jurisdiction: "NL", sub: NL_JUDGE.sub, role: "judge", exhibits: null });
    const read = forge.add(NL_JUDGE, "exhibit.accessed", "E1", READ);
    const report = await verify(forge);
    expect(report, [7], /grants access for its own jurisdiction only/, grant);
    assert.ok(findings(report, 7).some((f) => f.seq === read && /without an unrevoked case.access_granted/.test(f.message)));
  });

  test("defence reads only the exhibits its grant lists", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    forge.exhibit("E2");
    forge.add(NL_PROSECUTOR, "case.access_granted", null, { jurisdiction: "NL", sub: NL_DEFENCE.sub, role: "defence", exhibits: ["E1"] });
    forge.add(NL_DEFENCE, "exhibit.accessed", "E1", READ);
    const outside = forge.add(NL_DEFENCE, "exhibit.accessed", "E2", READ);
    expect(await verify(forge), [7], /no grant lists this exhibit/, outside);
  });

  test("a grant rests on the granting state's ownership or unrevoked share at the time of access", async () => {
    const forge = new Forge();
    forge.exhibit("E1", "BE");
    forge.add(NL_PROSECUTOR, "case.access_granted", null, { jurisdiction: "NL", sub: NL_JUDGE.sub, role: "judge", exhibits: ["E1"] });
    const unshared = forge.add(NL_JUDGE, "exhibit.accessed", "E1", READ);
    forge.add(BE_PROSECUTOR, "exhibit.shared", "E1", { jurisdiction: "NL", conditions: "court use only" });
    forge.add(NL_JUDGE, "exhibit.accessed", "E1", READ);
    forge.add(BE_PROSECUTOR, "exhibit.share_revoked", "E1", { jurisdiction: "NL", conditions: "" });
    const revoked = forge.add(NL_JUDGE, "exhibit.accessed", "E1", READ);
    const report = await verify(forge);
    expect(report, [7], /granting state NL neither owned it/, unshared);
    assert.deepEqual(findings(report, 7).map((f) => f.seq), [unshared, revoked]);
  });

  test("a later grant to the same person does not end an earlier one; only a revocation does", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    forge.exhibit("E2");
    forge.add(NL_PROSECUTOR, "case.access_granted", null, { jurisdiction: "NL", sub: NL_JUDGE.sub, role: "judge", exhibits: ["E1"] });
    forge.add(NL_PROSECUTOR, "case.access_granted", null, { jurisdiction: "NL", sub: NL_JUDGE.sub, role: "judge", exhibits: ["E2"] });
    forge.add(NL_JUDGE, "exhibit.accessed", "E1", READ);
    forge.add(NL_JUDGE, "exhibit.accessed", "E2", READ);
    expect(await verify(forge));
  });

  test("access after the grant is revoked fails; the judge of another state has no grant", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    forge.add(NL_PROSECUTOR, "case.access_granted", null, { jurisdiction: "NL", sub: NL_JUDGE.sub, role: "judge", exhibits: null });
    forge.add(NL_PROSECUTOR, "case.access_revoked", null, { jurisdiction: "NL", sub: NL_JUDGE.sub, role: "judge" });
    const late = forge.add(NL_JUDGE, "exhibit.accessed", "E1", READ);
    const stranger = forge.add(BE_JUDGE, "exhibit.accessed", "E1", READ);
    const report = await verify(forge);
    expect(report, [7], /without an unrevoked case.access_granted/, late);
    assert.deepEqual(findings(report, 7).map((f) => f.seq), [late, stranger]);
  });

  test("a grant whose exhibits is neither null nor a list is malformed (check 1)", async () => {
    const forge = new Forge();
    forge.add(NL_PROSECUTOR, "case.access_granted", null, { jurisdiction: "NL", sub: NL_JUDGE.sub, role: "judge", exhibits: "E1" });
    expect(await verify(forge), [1], /data.exhibits must be null or a list/);
  });
});

describe("holds (spec 6.7)", () => {
  test("a hold released by the state that set it, then disposal, passes", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    const hold = forge.add(NL_PROSECUTOR, "exhibit.hold_set", "E1", { reason: "appeal", authority: "order 1" });
    forge.add(NL_PROSECUTOR, "exhibit.hold_released", "E1", { reason: "appeal ended", hold });
    forge.add(NL_PROSECUTOR, "exhibit.disposed", "E1", { reason: "retention ended", authority: "order 2" });
    expect(await verify(forge));
  });

  test("a hold released by another state fails", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    forge.add(BE_PROSECUTOR, "exhibit.shared", "E1", { jurisdiction: "BE", conditions: "" });
    const hold = forge.add(NL_PROSECUTOR, "exhibit.hold_set", "E1", { reason: "appeal", authority: "order 1" });
    const release = forge.add(BE_PROSECUTOR, "exhibit.hold_released", "E1", { reason: "done", hold });
    expect(await verify(forge), [7], /set by NL released by BE/, release);
  });

  test("a judge's hold is released by a judge only", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    const first = forge.add(NL_JUDGE, "exhibit.hold_set", "E1", { reason: "trial", authority: "court order" });
    forge.add(NL_JUDGE, "exhibit.hold_released", "E1", { reason: "trial over", hold: first });
    const second = forge.add(NL_JUDGE, "exhibit.hold_set", "E1", { reason: "appeal", authority: "court order 2" });
    const release = forge.add(NL_PROSECUTOR, "exhibit.hold_released", "E1", { reason: "done", hold: second });
    expect(await verify(forge), [7], /set by a judge released by a prosecutor/, release);
  });

  test("releasing a hold twice, or a seq that is no hold on the exhibit, fails", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    forge.exhibit("E2");
    const hold = forge.add(NL_PROSECUTOR, "exhibit.hold_set", "E1", { reason: "appeal", authority: "order" });
    forge.add(NL_PROSECUTOR, "exhibit.hold_released", "E1", { reason: "done", hold });
    const twice = forge.add(NL_PROSECUTOR, "exhibit.hold_released", "E1", { reason: "again", hold });
    const elsewhere = forge.add(NL_PROSECUTOR, "exhibit.hold_released", "E2", { reason: "wrong exhibit", hold });
    const report = await verify(forge);
    expect(report, [7], /no open hold/, twice);
    assert.deepEqual(findings(report, 7).map((f) => f.seq), [twice, elsewhere]);
  });

  test("no disposal while any hold is open, even after another is released", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    const first = forge.add(NL_PROSECUTOR, "exhibit.hold_set", "E1", { reason: "a", authority: "order a" });
    const second = forge.add(NL_JUDGE, "exhibit.hold_set", "E1", { reason: "b", authority: "order b" });
    forge.add(NL_PROSECUTOR, "exhibit.hold_released", "E1", { reason: "a over", hold: first });
    const disposed = forge.add(NL_PROSECUTOR, "exhibit.disposed", "E1", { reason: "end", authority: "order c" });
    expect(await verify(forge), [7], new RegExp(`disposed while hold ${second} is open`), disposed);
  });

  test("a hold_released whose hold is not an integer is malformed (check 1)", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    forge.add(NL_PROSECUTOR, "exhibit.hold_released", "E1", { reason: "done", hold: "4" });
    expect(await verify(forge), [1], /data.hold must be an integer/);
  });
});

describe("note commitments (spec 2.1)", () => {
  test("notes on an exhibit and on the case carry a commitment and pass", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    forge.add(NL_PROSECUTOR, "note.added", "E1", { commitment: "0f".repeat(32) });
    forge.add(NL_PROSECUTOR, "note.added", null, { commitment: "a1".repeat(32) });
    expect(await verify(forge));
  });

  test("a note without a commitment, or with text in the log, fails check 1", async () => {
    for (const data of [{ text: "the suspect was seen" }, { commitment: "AB".repeat(32) }, { commitment: "ab".repeat(31) }]) {
      const forge = new Forge();
      forge.add(NL_PROSECUTOR, "note.added", null, data);
      expect(await verify(forge), [1], /data.commitment/);
    }
  });
});

describe("manifest log_size (spec 5)", () => {
  test("a bundle stopping below the log's size passes with a warning", async () => {
    const forge = new Forge();
    forge.exhibit("E1");
    forge.add(NL_PROSECUTOR, "exhibit.accessed", "E1", READ);
    const report = await verify(forge, { treeSize: 4, logSize: 5 });
    expect(report);
    assert.ok(report.warnings.some((w) => /stops at tree_size 4 of a log of 5/.test(w.message)));
  });

  test("log_size below tree_size fails check 1; no log_size is no bundle", async () => {
    const forge = new Forge();
    expect(await verify(forge, { logSize: 1 }), [1], /log_size 1 is smaller than its tree_size 2/);
    const report = await verify(forge, { manifest: { log_size: undefined } });
    assert.equal(report.verdict, "error");
    assert.match(report.error, /log_size/);
    const float = await verify(forge, { manifest: { log_size: "2" } });
    assert.equal(float.verdict, "error");
  });
});

describe("policy.txt and the policy history (spec 5)", () => {
  test("policy.txt equal to the newest case.policy_set passes", async () => {
    const forge = new Forge({ witnesses: ["NL-1", "BE-1"] });
    forge.add(actor("-", "system", "system"), "case.policy_set", null, { policy: forge.policy({ quorum: "NL-1" }) });
    expect(await verify(forge, { policyText: forge.policy({ quorum: "NL-1" }), trusted: false }));
  });

  test("policy.txt equal to an older case.policy_set, or to none, fails check 5", async () => {
    const forge = new Forge({ witnesses: ["NL-1", "BE-1"] });
    const newest = forge.add(actor("-", "system", "system"), "case.policy_set", null, { policy: forge.policy({ quorum: "NL-1" }) });
    const old = await verify(forge, { trusted: false });
    expect(old, [5], new RegExp(`newest case.policy_set entry \\(seq ${newest}\\)`));
    // The same with a trusted policy given: the bundle's own claim is still held to its log.
    expect(await verify(forge), [5], /not the policy of the newest case.policy_set/);
    const unlogged = await verify(forge, { policyText: "# edited\n" + forge.policy(), trusted: false });
    expect(unlogged, [5], /not the policy of the newest/);
  });

  test("the newest case.policy_set counts up to tree_size, not beyond", async () => {
    const forge = new Forge({ witnesses: ["NL-1", "BE-1"] });
    forge.exhibit("E1");
    forge.add(actor("-", "system", "system"), "case.policy_set", null, { policy: forge.policy({ quorum: "NL-1" }) });
    expect(await verify(forge, { treeSize: 4, logSize: 5, trusted: false }));
  });
});

describe("what the bundle rests on (spec 6 warnings)", () => {
  test("quorum none: the first line says the bundle rests on the log operator's key alone", async () => {
    const forge = new Forge({ witnesses: [] });
    const report = await verify(forge, { trusted: false });
    expect(report);
    assert.equal(report.operatorOnly, true);
    assert.match(headline(report), /^This bundle rests on the log operator's key alone/);
    assert.ok(report.warnings.some((w) => /quorum none/.test(w.message)));
    assert.ok(report.warnings.some((w) => /taken from the bundle/.test(w.message)));
  });

  test("a witness policy with quorum none and no cosignature rests on the operator's key alone", async () => {
    const forge = new Forge({ witnesses: ["NL-1"] });
    const policyText = forge.policy({ quorum: "none" });
    forge.add(actor("-", "system", "system"), "case.policy_set", null, { policy: policyText });
    const report = await verify(forge, { policyText, cosign: false, trusted: policyText });
    expect(report);
    assert.equal(report.operatorOnly, true);
    assert.match(headline(report), /^This bundle rests on the log operator's key alone/);
    assert.ok(report.warnings.some((w) => /log operator's key alone/.test(w.message)));
    assert.ok(!report.warnings.some((w) => /taken from the bundle/.test(w.message)));
  });

  test("a cosigned bundle under a trusted policy has no such line and no warning", async () => {
    const forge = new Forge();
    const report = await verify(forge);
    expect(report);
    assert.equal(report.operatorOnly, false);
    assert.match(headline(report), /^VERIFIED/);
    assert.deepEqual(report.warnings, []);
    assert.equal(report.policySource, "user");
  });

  test("a witness quorum without a cosignature fails check 5", async () => {
    const forge = new Forge();
    expect(await verify(forge, { cosign: false }), [5], /quorum is not met/);
  });
});
