// Merkle proofs, signed notes, vkeys and cosignatures against public vectors
// (tests/custody/data: transparency-dev/merkle, C2SP and golang.org/x/mod/sumdb/note).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { fromHex, toHex, utf8 } from "../src/bytes.js";
import { leafHash, ready, sha256 } from "../src/hashes.js";
import { CompactRange, inclusionFailure } from "../src/merkle.js";
import { cosignedBy, noteSignedBy, parseCheckpoint, parseNote, parseVkey } from "../src/note.js";
import { parsePolicy, quorumMet } from "../src/policy.js";
import { C2SP, MERKLE } from "./support.mjs";

await ready();
const text = (name) => readFileSync(path.join(C2SP, name), "utf8");
const bytes = (name) => new Uint8Array(readFileSync(path.join(C2SP, name)));

test("RFC 9162 inclusion proofs: happy paths verify, every corruption fails", () => {
  const { cases } = JSON.parse(readFileSync(path.join(MERKLE, "inclusion_vectors.json"), "utf8"));
  assert.ok(cases.length > 80);
  for (const item of cases) {
    const failure = inclusionFailure(fromHex(item.leaf_hash), BigInt(item.index), BigInt(item.size), item.proof.map(fromHex), fromHex(item.root));
    assert.equal(failure !== null, item.want_error, `${item.source} ${item.desc}: ${failure}`);
  }
});

test("RFC 9162 tree hash: the compact range gives the root of every size 0..8", () => {
  const tree = JSON.parse(readFileSync(path.join(MERKLE, "rfc6962_tree.json"), "utf8"));
  const range = new CompactRange();
  const roots = tree.roots_by_size;
  assert.ok(roots, Object.keys(tree).join(","));
  assert.equal(toHex(range.root()), Object.values(roots)[0]);
  tree.leaves.forEach((leaf, i) => {
    range.push(leafHash(fromHex(leaf)));
    assert.equal(toHex(range.root()), Object.values(roots)[i + 1], `size ${i + 1}`);
  });
});

test("C2SP signed-note example: vkey, key ID and signature", async () => {
  const key = await parseVkey(text("signed-note-example.vkey").trim());
  assert.equal(key.name, "example.com/foo");
  assert.equal(toHex(key.id), "530d903a");
  assert.equal(await noteSignedBy(parseNote(bytes("signed-note-example.note")), key), true);
});

test("sumdb/note: both signatures of the two-signature note verify, a flipped one does not", async () => {
  const peter = await parseVkey(text("go-peterneumann.vkey").trim());
  const enoch = await parseVkey(text("go-enochroot.vkey").trim());
  const note = parseNote(bytes("go-two-signatures.note"));
  assert.equal(await noteSignedBy(note, peter), true);
  assert.equal(await noteSignedBy(note, enoch), true);
  const forged = { ...note, text: note.text.replace("answer", "Answer") };
  assert.equal(await noteSignedBy(forged, peter), false);
});

test("vkeys of types 0x01 and 0x04 derive their key IDs; a wrong ID is refused", async () => {
  assert.equal((await parseVkey(text("transparency-dev-ed25519.vkey").trim())).type, 0x01);
  assert.equal((await parseVkey(text("transparency-dev-cosignature.vkey").trim())).type, 0x04);
  await assert.rejects(parseVkey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"), /does not match/);
});

test("tlog-checkpoint and tlog-cosignature examples parse; the quasimodo note splits at its last blank line", async () => {
  const checkpoint = parseCheckpoint(parseNote(bytes("tlog-checkpoint-example.note")).text);
  assert.equal(checkpoint.size, 20852163n);
  assert.equal(checkpoint.root.length, 32);
  const note = parseNote(bytes("tlog-cosignature-example.note"));
  assert.equal(note.signatures.length, 2);
  assert.ok(parseNote(bytes("signed-note-quasimodo.note")).text.includes("\n\n"));
});

test("a cosignature/v1 line verifies over its timestamped message, and only that", async () => {
  const { subtle } = globalThis.crypto;
  const pair = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const publicKey = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  const name = "witness.test";
  const id = (await sha256(new Uint8Array([...utf8(name), 0x0a, 0x04, ...publicKey]))).subarray(0, 4);
  const body = "example.com/log\n5\n" + "A".repeat(43) + "=\n";
  const stamp = 1700000000n;
  const message = utf8(`cosignature/v1\ntime ${stamp}\n${body}`);
  const signature = new Uint8Array(await subtle.sign("Ed25519", pair.privateKey, message));
  const raw = new Uint8Array([...id, 0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00, ...signature]);
  const note = { text: body, signatures: [{ name, id, signature: raw.subarray(4) }] };
  const key = { name, id, publicKey };
  assert.equal(await cosignedBy(note, key, body), stamp);
  assert.equal(await cosignedBy(note, key, body.replace("5", "6")), false);
  assert.equal(await cosignedBy({ ...note, signatures: [] }, key, body), null);
});

test("tlog-policy example semantics: groups of k and quorum", async () => {
  const keys = [];
  for (const name of ["w1", "w2", "w3", "w4"]) {
    const pair = await globalThis.crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign"]);
    const pub = new Uint8Array(await globalThis.crypto.subtle.exportKey("raw", pair.publicKey));
    const id = (await sha256(new Uint8Array([...utf8(name), 0x0a, 0x04, ...pub]))).subarray(0, 4);
    keys.push(`${name}+${toHex(id)}+${Buffer.from([4, ...pub]).toString("base64")}`);
  }
  const logPair = await globalThis.crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign"]);
  const logPub = new Uint8Array(await globalThis.crypto.subtle.exportKey("raw", logPair.publicKey));
  const logId = (await sha256(new Uint8Array([...utf8("example.com/log"), 0x0a, 0x01, ...logPub]))).subarray(0, 4);
  const policy = await parsePolicy(
    `# comment\nlog example.com/log+${toHex(logId)}+${Buffer.from([1, ...logPub]).toString("base64")}\n` +
      keys.map((k, i) => `witness W${i + 1} ${k}\n`).join("") +
      "group X 2 W1 W2 W3\ngroup Y any W4\ngroup Z all X Y\nquorum Z\n",
  );
  assert.equal(quorumMet(policy, new Set(["W1", "W2", "W4"])), true);
  assert.equal(quorumMet(policy, new Set(["W1", "W4"])), false);
  assert.equal(quorumMet(policy, new Set(["W1", "W2", "W3"])), false);
  await assert.rejects(parsePolicy("quorum W9\n"), /not a witness or group defined before it/);
  await assert.rejects(parsePolicy("quorum none\nquorum none\n"), /second quorum line/);
  await assert.rejects(parsePolicy("quorum none"), /end with a newline/);
});
