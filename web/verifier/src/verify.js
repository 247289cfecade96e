// The offline verifier of court bundles (spec 6): every check, each with its result, the
// warnings, and which policy was trusted. Nothing here reads a clock or the network; the
// bundle is a Blob read in slices, so memory grows with the number of entries only by
// per-exhibit state and O(log n) Merkle peaks.

import { decodeUtf8, encodeBase64, equalBytes, toHex } from "./bytes.js";
import { EVENT_TYPES, EntryError, ZERO_HEX, checkEntry, validTime } from "./entry.js";
import { contentHashers, CryptoUnavailableError, ed25519Available, leafHash, ready } from "./hashes.js";
import { JsonError, parseCanonical, pyRepr } from "./json.js";
import { MANIFEST, readManifest } from "./manifest.js";
import { CompactRange, inclusionFailure } from "./merkle.js";
import { FormatError, MAX_PROOF_BYTES, parseCheckpoint, parseNote, parseTlogProof } from "./note.js";
import { checkCosignedCheckpoint, parsePolicy } from "./policy.js";
import { Replay } from "./replay.js";
import { BundleFormatError, MemberError, ZipArchive } from "./zip.js";

export { FORMAT } from "./manifest.js";
const ENTRIES = "entries.jsonl";
const CHECKPOINT = "checkpoint";
const POLICY = "policy.txt";
const PROOF_NAME = /^proofs\/(0|[1-9][0-9]*)\.tlog-proof$/;
const MAX_SMALL_MEMBER_BYTES = 1024 * 1024; // checkpoint, policy
export const MAX_ENTRY_LINE_BYTES = 1024 * 1024;
const MAX_FINDINGS_PER_CHECK = 50;
const STALE_COSIGNATURE_SECONDS = 24 * 60 * 60;

// spec 6: the seven checks in order; ids as the Python verifier's CHECKS.
export const CHECKS = [
  ["format", "entries and manifest are canonical and well-formed"],
  ["log", "sequence, hash chain and Merkle root match the checkpoint"],
  ["time", "entry times never decrease along seq"],
  ["exhibit-chains", "each exhibit's custody chain is unbroken"],
  ["signatures", "checkpoint signed by the log key, cosignatures verify, quorum met"],
  ["content", "included exhibit content matches the recorded size and hashes"],
  ["replay", "custody rules hold when the log is replayed"],
];
const SELECTIVE_LOG_TITLE = "inclusion proofs verify and disclosed exhibits' chains are unbroken";
const ENTRY_CHECKS = ["log", "time", "exhibit-chains", "replay"];

/** Collects findings per check and the warnings. */
class Recorder {
  constructor(selective) {
    this.checks = CHECKS.map(([id, title], index) => ({
      id,
      number: index + 1,
      title: id === "log" && selective ? SELECTIVE_LOG_TITLE : title,
      status: "pass",
      detail: "",
      findingCount: 0,
      findings: [],
    }));
    this.byId = new Map(this.checks.map((check) => [check.id, check]));
    this.warnings = [];
  }

  fail(id, message, seq = null) {
    const check = this.byId.get(id);
    check.status = "fail";
    check.findingCount += 1;
    if (check.findings.length < MAX_FINDINGS_PER_CHECK) {
      check.findings.push({ message: seq === null ? message : `entry seq ${seq}: ${message}`, seq });
    }
  }

  warn(id, message, seq = null) {
    if (this.warnings.length < MAX_FINDINGS_PER_CHECK * 4) {
      this.warnings.push({ check: id, message: seq === null ? message : `entry seq ${seq}: ${message}`, seq });
    }
  }

  skip(id, why) {
    const check = this.byId.get(id);
    if (check.status === "pass") {
      check.status = "skip";
      check.detail = why;
    }
  }
}

/**
 * Verify a court bundle. `policy`: a trusted tlog-policy (text or bytes) from the user;
 * without it the bundle's own policy.txt is used, and the report says so (spec 5).
 * Never throws: an unreadable bundle gives verdict "error".
 */
export async function verifyBundle(blob, { policy = null, onProgress = () => {} } = {}) {
  try {
    await ready();
    if (!(await ed25519Available())) {
      throw new CryptoUnavailableError("this browser cannot verify Ed25519 signatures (WebCrypto Ed25519 is missing); use a current browser");
    }
    const archive = await ZipArchive.open(blob);
    return await new BundleCheck(archive, policy, onProgress).run();
  } catch (error) {
    if (error instanceof BundleFormatError || error instanceof CryptoUnavailableError) {
      return { verdict: "error", ok: false, unreadable: true, error: error.message, checks: [], warnings: [] };
    }
    return { verdict: "error", ok: false, unreadable: true, error: `unexpected failure: ${error && error.message}`, checks: [], warnings: [] };
  }
}

class BundleCheck {
  constructor(archive, policyInput, onProgress) {
    this.archive = archive;
    this.policyInput = policyInput;
    this.onProgress = onProgress;
  }

  async run() {
    const manifest = await this.readManifest();
    this.manifest = manifest;
    this.selective = manifest.disclosure === "selective";
    const rec = (this.rec = new Recorder(this.selective));
    this.checkManifest();
    // spec 6.5 first: the checkpoint gives the root that check 2 compares against.
    const policy = await this.loadPolicy();
    this.checkpoint = await this.checkCheckpoint(policy);
    if (this.checkpoint !== null && this.checkpoint.size !== BigInt(manifest.treeSize)) {
      rec.fail("log", `checkpoint size ${this.checkpoint.size} is not the manifest's tree_size ${manifest.treeSize}`);
    }
    this.replay = new Replay(rec);
    this.exhibitHeads = new Map();
    this.count = 0;
    let read = false;
    if (!this.archive.has(ENTRIES)) rec.fail("format", `${ENTRIES} is missing`);
    else read = await this.walkEntries();
    if (!read) {
      // Checks over entries never read cannot pass: say so, not "pass".
      for (const id of ENTRY_CHECKS) rec.skip(id, `${ENTRIES} is missing or could not be read to its end`);
    } else {
      this.finishEntries();
    }
    await this.checkContent(read);
    await this.addWarnings(read);
    return this.report();
  }

  // --- the manifest (spec 5) ------------------------------------------------------------

  async readManifest() {
    return readManifest(this.archive);
  }

  checkManifest() {
    const { manifest, rec } = this;
    if (!manifest.canonical) rec.fail("format", `${MANIFEST} is not RFC 8785 canonical`);
    if (!validTime(manifest.created)) {
      rec.fail("format", `manifest created '${manifest.created}' is not RFC 3339 UTC with microseconds and Z (the format of entry times, spec 2)`);
    }
    if (!manifest.origin.endsWith(`/case/${manifest.case}`)) {
      rec.fail("format", `origin '${manifest.origin}' is not '<log name>/case/${manifest.case}'`);
    }
    if (manifest.logSize < manifest.treeSize) {
      rec.fail("format", `manifest log_size ${manifest.logSize} is smaller than its tree_size ${manifest.treeSize} (spec 5: log_size >= tree_size)`);
    }
    if (this.selective) {
      rec.byId.get("log").detail =
        "each disclosed entry is proven to be in the signed log; a selective bundle cannot prove that no later entry was withheld";
    }
  }

  // --- check 5: policy, checkpoint, cosignatures ----------------------------------------

  async loadPolicy() {
    const rec = this.rec;
    this.policySource = this.policyInput === null ? "bundle" : "user";
    let input = this.policyInput;
    if (input === null) {
      if (!this.archive.has(POLICY)) {
        rec.fail("signatures", `${POLICY} is missing and no policy was given`);
        return null;
      }
      try {
        input = await this.archive.readAll(POLICY, { limit: MAX_SMALL_MEMBER_BYTES });
      } catch (error) {
        if (!(error instanceof MemberError)) throw error;
        rec.fail("signatures", `${POLICY} cannot be read: ${error.message}`);
        return null;
      }
      try {
        decodeUtf8(input);
      } catch {
        rec.fail("signatures", `${POLICY} is not UTF-8`);
        return null;
      }
    }
    try {
      return await parsePolicy(input);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      rec.fail("signatures", `policy (${this.policySource}) cannot be parsed: ${error.message}`);
      return null;
    }
  }

  async checkCheckpoint(policy) {
    const { rec, manifest } = this;
    this.cosigners = new Map();
    this.witnessesKnown = policy === null ? null : policy.witnesses.length;
    this.quorumNone = policy !== null && policy.quorum === null;
    if (!this.archive.has(CHECKPOINT)) {
      rec.fail("signatures", `${CHECKPOINT} is missing`);
      return null;
    }
    let note;
    let checkpoint;
    try {
      note = parseNote(await this.archive.readAll(CHECKPOINT, { limit: MAX_SMALL_MEMBER_BYTES }));
    } catch (error) {
      if (!(error instanceof MemberError || error instanceof FormatError)) throw error;
      rec.fail("signatures", `checkpoint note is malformed: ${error.message}`);
      return null;
    }
    try {
      checkpoint = parseCheckpoint(note.text);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      rec.fail("signatures", `checkpoint body is malformed: ${error.message}`);
      return null;
    }
    // spec 4: no extension lines.
    if (checkpoint.extensions.length) rec.fail("signatures", "checkpoint has extension lines (spec 4: none)");
    if (checkpoint.origin !== manifest.origin) {
      rec.fail("signatures", `checkpoint origin '${checkpoint.origin}' is not the bundle's '${manifest.origin}'`);
      return checkpoint;
    }
    if (policy === null) return checkpoint;
    let verdict;
    try {
      verdict = await checkCosignedCheckpoint(note, policy, manifest.origin);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      rec.fail("signatures", error.message);
      return checkpoint;
    }
    for (const name of verdict.bad) rec.fail("signatures", `cosignature of witness '${name}' does not verify`);
    if (!verdict.quorumMet) {
      const names = [...verdict.cosigners.keys()].sort().join(", ") || "none";
      rec.fail("signatures", `the policy's witness quorum is not met (cosigned by: ${names})`);
    }
    this.cosigners = verdict.cosigners;
    this.staleCheck(verdict.cosigners);
    return checkpoint;
  }

  staleCheck(cosigners) {
    if (!cosigners.size || !validTime(this.manifest.created)) return;
    const newest = Number([...cosigners.values()].reduce((a, b) => (a > b ? a : b)));
    const created = Date.parse(this.manifest.created) / 1000;
    if (created - newest > STALE_COSIGNATURE_SECONDS) {
      const when = new Date(newest * 1000).toISOString().replace(".000Z", "Z");
      this.rec.warn("signatures", `the newest cosignature (${when}) is more than a day older than the bundle (${this.manifest.created})`);
    }
  }

  // --- checks 1-4 and 7: one streaming pass over entries.jsonl ---------------------------

  async walkEntries() {
    this.tree = new CompactRange();
    this.previousSeq = -1;
    this.previousLeaf = null;
    this.previousTime = "";
    this.proofNames = this.selective ? this.findProofs() : null;
    const total = this.archive.size(ENTRIES);
    let done = 0;
    let pending = null;
    let number = 0;
    try {
      for await (const chunk of this.archive.stream(ENTRIES)) {
        done += chunk.length;
        let data = chunk;
        if (pending !== null) {
          data = new Uint8Array(pending.length + chunk.length);
          data.set(pending);
          data.set(chunk, pending.length);
          pending = null;
        }
        let start = 0;
        for (;;) {
          const end = data.indexOf(0x0a, start);
          if (end < 0) break;
          number += 1;
          // Complete lines are capped too, not only an unfinished tail.
          if (end - start > MAX_ENTRY_LINE_BYTES) throw new MemberError(`${ENTRIES}: line ${number} is longer than ${MAX_ENTRY_LINE_BYTES} bytes`);
          const line = data.subarray(start, end);
          if (this.selective) await this.entryLine(line, number);
          else this.entryLineSync(line, number);
          start = end + 1;
        }
        if (start < data.length) {
          if (data.length - start > MAX_ENTRY_LINE_BYTES) throw new MemberError(`${ENTRIES}: line ${number + 1} is longer than ${MAX_ENTRY_LINE_BYTES} bytes`);
          pending = data.slice(start);
        }
        this.onProgress({ stage: "entries", done, total });
      }
      if (pending !== null) throw new MemberError(`${ENTRIES}: the last line does not end with a newline`);
    } catch (error) {
      if (!(error instanceof MemberError)) throw error;
      this.rec.fail("format", error.message);
      return false;
    }
    return true;
  }

  parseLine(line, number) {
    const rec = this.rec;
    let parsed;
    try {
      parsed = parseCanonical(line);
    } catch (error) {
      if (!(error instanceof JsonError)) throw error;
      rec.fail("format", `line ${number}: ${error.message}`);
      return null;
    }
    let entry;
    try {
      entry = checkEntry(parsed.value);
    } catch (error) {
      if (!(error instanceof EntryError)) throw error;
      rec.fail("format", `line ${number}: ${error.message}`);
      return null;
    }
    // A well-formed but non-canonical line is failed here and still followed through the
    // other checks, keyed by the leaf hash of its bytes as given, so a defect shows once.
    if (!parsed.canonical) rec.fail("format", `line ${number}: not in RFC 8785 canonical form (re-encoding differs)`);
    return entry;
  }

  entryLineSync(line, number) {
    const entry = this.parseLine(line, number);
    const leaf = leafHash(line); // RFC 9162 2.1.1, over the bytes as given
    this.tree.push(leaf);
    // spec 6.2, full bundle: seq runs 0..n-1 and prev links each to the one before.
    if (entry !== null) {
      if (entry.seq !== this.count) this.rec.fail("log", `seq is ${entry.seq}, expected ${this.count} (gap or reordering)`, entry.seq);
      const expected = this.previousLeaf === null ? ZERO_HEX : toHex(this.previousLeaf);
      if (entry.prev !== expected) this.rec.fail("log", "prev is not the leaf hash of the entry before", entry.seq);
    }
    this.followEntry(entry, leaf);
  }

  async entryLine(line, number) {
    const entry = this.parseLine(line, number);
    const leaf = leafHash(line);
    // spec 6.2, selective bundle: ascending seq, prev where neighbours are both present,
    // and each entry's tlog-proof.
    if (entry !== null) {
      if (entry.seq <= this.previousSeq) this.rec.fail("log", "entries are not in seq order", entry.seq);
      if (this.previousLeaf !== null && entry.seq === this.previousSeq + 1 && entry.prev !== toHex(this.previousLeaf)) {
        this.rec.fail("log", "prev is not the leaf hash of the entry before", entry.seq);
      }
      await this.checkProof(entry, line, leaf);
    }
    this.followEntry(entry, leaf);
  }

  followEntry(entry, leaf) {
    const rec = this.rec;
    if (entry === null) {
      this.previousLeaf = leaf;
      this.count += 1;
      return;
    }
    if (entry.case !== this.manifest.case) rec.fail("format", `case ${entry.case} is not the bundle's case ${this.manifest.case}`, entry.seq);
    // spec 6.3: time never decreases (fixed-width RFC 3339 UTC sorts as text).
    if (entry.time < this.previousTime) {
      rec.fail("time", `time ${entry.time} is earlier than the entry before (${this.previousTime})`, entry.seq);
    } else {
      this.previousTime = entry.time;
    }
    if (!EVENT_TYPES.has(entry.type)) rec.warn("format", `unknown event type ${pyRepr(entry.type)}`, entry.seq);
    // spec 6.4 (and 6.2 for selective bundles): each exhibit's own chain.
    if (entry.exhibit !== null) {
      const head = this.exhibitHeads.get(entry.exhibit) || ZERO_HEX;
      if (entry.exhibit_prev !== head) {
        const message = `exhibit_prev breaks the chain of exhibit ${entry.exhibit} (expected ${head.slice(0, 16)}...)`;
        rec.fail("exhibit-chains", message, entry.seq);
        if (this.selective) rec.fail("log", message, entry.seq);
      }
      this.exhibitHeads.set(entry.exhibit, toHex(leaf));
    }
    this.replay.apply(entry);
    this.previousSeq = entry.seq;
    this.previousLeaf = leaf;
    this.count += 1;
  }

  findProofs() {
    const found = new Map();
    for (const name of this.archive.names) {
      const match = PROOF_NAME.exec(name);
      if (match) found.set(Number(match[1]), name);
    }
    return found;
  }

  /** spec 6.2, selective: the entry's tlog-proof against the bundle's checkpoint. */
  async checkProof(entry, line, leaf) {
    const rec = this.rec;
    const name = this.proofNames.get(entry.seq);
    if (name === undefined) {
      rec.fail("log", "no tlog-proof for this entry", entry.seq);
      return;
    }
    let proof;
    try {
      proof = parseTlogProof(await this.archive.readAll(name, { limit: MAX_PROOF_BYTES }));
    } catch (error) {
      if (!(error instanceof FormatError || error instanceof MemberError)) throw error;
      rec.fail("log", `${name} is malformed: ${error.message}`, entry.seq);
      return;
    }
    const checkpoint = this.checkpoint;
    if (checkpoint === null) {
      rec.fail("log", "no valid checkpoint to check proofs against");
      return;
    }
    if (proof.index !== BigInt(entry.seq)) {
      rec.fail("log", `${name} proves index ${proof.index}`, entry.seq);
      return;
    }
    if (proof.note.text !== checkpoint.text) {
      rec.fail("log", `${name} is against another checkpoint`, entry.seq);
      return;
    }
    if (proof.extra !== null && !equalBytes(proof.extra, line)) {
      rec.fail("log", `${name} carries another entry as extra`, entry.seq);
    }
    const failure = inclusionFailure(leaf, proof.index, checkpoint.size, proof.hashes, checkpoint.root);
    if (failure !== null) rec.fail("log", `inclusion proof fails: ${failure}`, entry.seq);
  }

  finishEntries() {
    const { rec, manifest } = this;
    if (this.selective) {
      for (const exhibit of manifest.exhibits) {
        if (!this.exhibitHeads.has(exhibit.id)) rec.fail("log", `disclosed exhibit ${exhibit.id} has no entries in the bundle`);
      }
      rec.byId.get("replay").detail = this.selectiveReplayDetail();
      return;
    }
    // spec 6.2: n = tree_size, and the RFC 9162 root over all leaves is the checkpoint's.
    if (this.count !== manifest.treeSize) rec.fail("log", `${ENTRIES} has ${this.count} entries, tree_size is ${manifest.treeSize}`);
    if (this.checkpoint === null) rec.fail("log", "no valid checkpoint to compare the root with");
    else if (!equalBytes(this.tree.root(), this.checkpoint.root)) {
      rec.fail("log", "the Merkle root over the entries differs from the checkpoint's root");
    }
  }

  selectiveReplayDetail() {
    const withheld = Math.max(0, this.manifest.treeSize - this.count);
    return (
      `checked in part: a selective bundle replays the ${this.count} entries it holds; what the ${withheld} ` +
      "withheld entries would have built is unknown. Access by shares and grants, party consents and " +
      "withdrawals, hold releases and disposal under a hold, and the rules on ingest, sealing and " +
      "disposal hold only as far as the entries present show (a withheld revocation, release or later " +
      "event cannot be seen)."
    );
  }

  // --- check 6: content ------------------------------------------------------------------

  async checkContent(entriesRead) {
    const { rec, manifest } = this;
    const total = manifest.exhibits.reduce((sum, exhibit) => sum + (exhibit.content !== null && this.archive.has(exhibit.content) ? this.archive.size(exhibit.content) : 0), 0);
    let done = 0;
    let included = 0;
    for (const exhibit of manifest.exhibits) {
      const state = this.replay.exhibits.get(exhibit.id);
      const ingested = state === undefined ? null : state.ingested;
      const recorded = ingested === null ? null : [ingested.size, ingested.sha256, ingested.blake3];
      const claimed = [exhibit.size, exhibit.sha256, exhibit.blake3];
      if (recorded !== null && !sameDigests(claimed, recorded)) {
        rec.fail("content", `exhibit ${exhibit.id}: manifest size/hashes differ from its exhibit.ingested entry`);
      }
      if (exhibit.content === null) continue;
      included += 1;
      if (!exhibit.content.startsWith(`exhibits/${exhibit.id}/`)) {
        rec.fail("content", `exhibit ${exhibit.id}: content path '${exhibit.content}' is outside exhibits/${exhibit.id}/`);
        continue;
      }
      if (!this.archive.has(exhibit.content)) {
        rec.fail("content", `exhibit ${exhibit.id}: content file '${exhibit.content}' is missing`);
        continue;
      }
      if (recorded === null && entriesRead) {
        rec.fail("content", `exhibit ${exhibit.id}: content is included but no exhibit.ingested entry records its hashes`);
      }
      let actual;
      try {
        // Hashed slice by slice as it streams out of the archive: never whole in memory.
        const { sha, blake } = await contentHashers();
        let size = 0;
        for await (const chunk of this.archive.stream(exhibit.content)) {
          sha.update(chunk);
          blake.update(chunk);
          size += chunk.length;
          done += chunk.length;
          this.onProgress({ stage: "content", done, total, exhibit: exhibit.id });
        }
        actual = [size, sha.digest("hex"), blake.digest("hex")];
      } catch (error) {
        if (!(error instanceof MemberError)) throw error;
        rec.fail("content", `exhibit ${exhibit.id}: ${error.message}`);
        continue;
      }
      if (!sameDigests(actual, claimed)) {
        rec.fail(
          "content",
          `exhibit ${exhibit.id}: content is ${actual[0]} bytes, sha256 ${actual[1]}, blake3 ${actual[2]}; the manifest says ${claimed[0]} bytes, sha256 ${claimed[1]}, blake3 ${claimed[2]}`,
        );
      } else if (recorded !== null && !sameDigests(actual, recorded)) {
        rec.fail("content", `exhibit ${exhibit.id}: content differs from its exhibit.ingested entry`);
      }
    }
    const check = rec.byId.get("content");
    if (check.status === "pass" && !included) check.detail = "no content included (hashes only)";
  }

  // --- warnings and the policy the log itself records -----------------------------------

  async addWarnings(entriesRead) {
    const { rec, manifest } = this;
    if (entriesRead) await this.checkLoggedPolicy();
    if (this.policySource === "bundle") {
      rec.warn("signatures", "the policy was taken from the bundle (policy.txt), not from the user: it says only what the exporter claims");
    }
    if (manifest.treeSize < manifest.logSize) {
      rec.warn(
        "log",
        `the bundle stops at tree_size ${manifest.treeSize} of a log of ${manifest.logSize} entries when it was made (bundles stop at the newest checkpoint that met the case policy)`,
      );
    }
    // spec 6: a bundle resting on the log operator's key alone says so in its first line.
    this.operatorOnly = this.quorumNone || (this.checkpoint !== null && this.witnessesKnown !== null && this.cosigners.size === 0);
    if (this.operatorOnly) {
      rec.warn(
        "signatures",
        this.quorumNone
          ? "the policy has quorum none: this bundle rests on the log operator's key alone"
          : "the checkpoint carries no witness cosignature that verifies: this bundle rests on the log operator's key alone",
      );
    }
  }

  /** spec 5: policy.txt is the text of the newest case.policy_set at tree_size. */
  async checkLoggedPolicy() {
    if (!this.archive.has(POLICY)) return;
    const logged = this.replay.policy;
    if (logged === null) {
      this.rec.fail("signatures", "the log has no case.policy_set entry, so policy.txt rests on nothing the log records");
      return;
    }
    let text;
    try {
      text = decodeUtf8(await this.archive.readAll(POLICY, { limit: MAX_SMALL_MEMBER_BYTES }));
    } catch (error) {
      if (error instanceof MemberError || error instanceof TypeError) return; // reported where the policy is read
      throw error;
    }
    if (text !== logged) {
      this.rec.fail("signatures", `policy.txt is not the policy of the newest case.policy_set entry (seq ${this.replay.policySeq})`);
    }
  }

  report() {
    const { rec, manifest } = this;
    const ok = rec.checks.every((check) => check.status !== "fail");
    return {
      verdict: ok ? "pass" : "fail",
      ok,
      unreadable: false,
      policySource: this.policySource,
      case: manifest.case,
      origin: manifest.origin,
      disclosure: manifest.disclosure,
      treeSize: manifest.treeSize,
      logSize: manifest.logSize,
      recipient: manifest.recipient,
      created: manifest.created,
      entries: this.count,
      checkpointSize: this.checkpoint === null ? null : Number(this.checkpoint.size),
      checkpointRoot: this.checkpoint === null ? null : encodeBase64(this.checkpoint.root),
      cosigners: [...this.cosigners.keys()].sort(),
      operatorOnly: this.operatorOnly,
      checks: rec.checks,
      warnings: rec.warnings,
    };
  }
}

function sameDigests(a, b) {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}
