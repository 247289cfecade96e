// Small full bundles written here, in the tests, from spec 2-5 alone: entries, the
// RFC 9162 root, a signed and cosigned checkpoint, policy.txt and the manifest. Hashing
// and signing go through node:crypto, not through the verifier's own code, so a mistake
// in the verifier's primitives cannot hide itself.

import { createHash, generateKeyPairSync, sign } from "node:crypto";

import { zipSync } from "fflate";

const ZERO = "0".repeat(64);
const CASE = "3f2b8c1e-5a6d-4e7f-9a0b-1c2d3e4f5a6b";
const ORIGIN = `jitc.test/case/${CASE}`;
const CREATED = "2026-12-04T12:00:00.000000Z";
const SYSTEM = { jurisdiction: "-", sub: "system", role: "system", token: null };

const sha256 = (...parts) => {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** RFC 8785 for the values entries hold here: strings, integers, booleans, null, lists, objects. */
export function canonical(value) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(",")}}`;
}

/** RFC 9162 2.1.1: split at the largest power of two smaller than n. */
function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256(Buffer.alloc(0));
  if (leaves.length === 1) return leaves[0];
  let split = 1;
  while (split * 2 < leaves.length) split *= 2;
  return sha256(Buffer.from([1]), merkleRoot(leaves.slice(0, split)), merkleRoot(leaves.slice(split)));
}

/** An Ed25519 key under a name; type 0x01 for the log, 0x04 for a cosigning witness. */
function noteKey(name, type) {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url");
  const id = sha256(Buffer.from(`${name}\n`), Buffer.from([type]), raw).subarray(0, 4);
  const vkey = `${name}+${id.toString("hex")}+${Buffer.concat([Buffer.from([type]), raw]).toString("base64")}`;
  return { name, id, vkey, sign: (message) => sign(null, Buffer.from(message), privateKey) };
}

export const actor = (jurisdiction, role, sub = `${role}.${jurisdiction.toLowerCase()}`) => ({ jurisdiction, sub, role, token: null });

/**
 * A case log under construction. `parties` go into case.created; `witnesses` names the
 * cosigning witnesses of the case policy (none: `quorum none`).
 */
export class Forge {
  constructor({ parties = ["NL", "BE"], witnesses = ["NL-1"] } = {}) {
    this.log = noteKey(ORIGIN, 0x01);
    this.witnesses = witnesses.map((label) => ({ label, key: noteKey(`witness.${label.toLowerCase()}.test`, 0x04) }));
    this.entries = [];
    this.leaves = [];
    this.heads = new Map();
    this.exhibits = new Map();
    this.add(SYSTEM, "case.created", null, { title: "Operation Test", parties, agreement: "JIT-2026-1" });
    this.add(SYSTEM, "case.policy_set", null, { policy: this.policy() });
  }

  /** tlog-policy text of this case (spec 5 policy.txt); `quorum` overrides the quorum line. */
  policy({ quorum } = {}) {
    const lines = [`log ${this.log.vkey}`, ...this.witnesses.map((w) => `witness ${w.label} ${w.key.vkey}`)];
    const names = this.witnesses.map((w) => w.label);
    const line = quorum ?? (names.length === 0 ? "none" : names.length === 1 ? names[0] : "all");
    if (line === "all") lines.push(`group all-witnesses all ${names.join(" ")}`, "quorum all-witnesses");
    else lines.push(`quorum ${line}`);
    return `${lines.join("\n")}\n`;
  }

  /** Append an entry (spec 2); returns its seq. */
  add(who, type, exhibit, data) {
    const seq = this.entries.length;
    const time = new Date(Date.parse("2026-12-04T10:00:00Z") + seq * 1000).toISOString().replace("Z", "000Z");
    const entry = {
      v: 1,
      case: CASE,
      seq,
      prev: seq === 0 ? ZERO : this.leaves[seq - 1].toString("hex"),
      time,
      actor: who,
      type,
      exhibit,
      exhibit_prev: exhibit === null ? null : (this.heads.get(exhibit) ?? ZERO),
      data,
    };
    const line = Buffer.from(canonical(entry));
    const leaf = sha256(Buffer.from([0]), line);
    this.entries.push(line);
    this.leaves.push(leaf);
    if (exhibit !== null) this.heads.set(exhibit, leaf.toString("hex"));
    return seq;
  }

  /** An exhibit registered and ingested by `owner`'s prosecutor (hashes only, no content). */
  exhibit(id, owner = "NL") {
    const hashes = { size: 1024, sha256: sha256(Buffer.from(id)).toString("hex"), blake3: sha256(Buffer.from(`b3${id}`)).toString("hex") };
    const who = actor(owner, "prosecutor");
    this.add(who, "exhibit.registered", id, { label: `Exhibit ${id}`, owner, description: "", acquisition: { tool: "test" } });
    this.add(who, "exhibit.ingested", id, { ...hashes, filename: `${id}.bin`, media_type: "application/octet-stream" });
    this.exhibits.set(id, hashes);
    return id;
  }

  /**
   * The bundle ZIP over the first `treeSize` entries. `manifest` patches the manifest
   * (a key set to undefined is removed); `policyText` replaces policy.txt; `cosign: false`
   * leaves the checkpoint without cosignatures.
   */
  bundle({ treeSize = this.entries.length, logSize = this.entries.length, manifest = {}, policyText = this.policy(), cosign = true } = {}) {
    const root = merkleRoot(this.leaves.slice(0, treeSize));
    const body = `${ORIGIN}\n${treeSize}\n${root.toString("base64")}\n`;
    const lines = [`\u2014 ${this.log.name} ${Buffer.concat([this.log.id, this.log.sign(body)]).toString("base64")}`];
    const stamp = BigInt(Date.parse(CREATED) / 1000 - 60);
    for (const { key } of cosign ? this.witnesses : []) {
      const time = Buffer.alloc(8);
      time.writeBigUInt64BE(stamp);
      const signature = key.sign(`cosignature/v1\ntime ${stamp}\n${body}`);
      lines.push(`\u2014 ${key.name} ${Buffer.concat([key.id, time, signature]).toString("base64")}`);
    }
    const fields = {
      format: "jitc-bundle/1",
      case: CASE,
      origin: ORIGIN,
      created: CREATED,
      disclosure: "full",
      tree_size: treeSize,
      log_size: logSize,
      exhibits: [...this.exhibits].map(([id, hashes]) => ({ id, label: `Exhibit ${id}`, filename: `${id}.bin`, ...hashes, content: null })),
      recipient: "Court of Test",
      ...manifest,
    };
    for (const key of Object.keys(fields)) if (fields[key] === undefined) delete fields[key];
    const entries = Buffer.concat(this.entries.slice(0, treeSize).flatMap((line) => [line, Buffer.from("\n")]));
    return zipSync({
      "jitc-bundle.json": Buffer.from(canonical(fields)),
      "entries.jsonl": entries,
      checkpoint: Buffer.from(`${body}\n${lines.join("\n")}\n`),
      "policy.txt": Buffer.from(policyText),
    });
  }
}
