// C2SP signed-note, tlog-checkpoint, tlog-cosignature and tlog-proof: parsing, and the
// verification of Ed25519 note signatures and cosignature/v1 lines.

import { concat, decodeBase64, decodeUtf8, equalBytes, fromHex, parseDecimal, toHex, utf8 } from "./bytes.js";
import { sha256, verifyEd25519 } from "./hashes.js";

export class FormatError extends Error {}

export const ED25519 = 0x01;
export const COSIGNATURE = 0x04;
export const MAX_NOTE_BYTES = 1 << 20;
// C2SP signed-note: verifiers SHOULD limit the number of signatures and MUST accept 16.
export const MAX_SIGNATURES = 100;
export const MAX_TREE_SIZE = 2n ** 64n - 1n;
const MAX_TIMESTAMP = 2n ** 63n - 1n;
const EM_DASH_SPACE = "\u2014 ";
// signed-note: no ASCII control characters other than newline.
const NOTE_CONTROL = /[\x00-\x09\x0b-\x1f]/;
const SPACE = /\s/u;

/** signed-note: key names are non-empty, without '+', whitespace or control characters. */
export function validKeyName(name) {
  return Boolean(name) && !name.includes("+") && !NOTE_CONTROL.test(name) && !name.includes("\n") && !SPACE.test(name);
}

/** signed-note: key ID = SHA-256(name || 0x0A || type || public key)[:4]. */
export async function keyId(name, type, publicKey) {
  return (await sha256(concat(utf8(name), new Uint8Array([0x0a, type]), publicKey))).subarray(0, 4);
}

/** `<name>+<8 hex key ID>+<base64(type || key)>` (spec 4); Ed25519 types 0x01 and 0x04 only. */
export async function parseVkey(vkey) {
  const first = vkey.indexOf("+");
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
  if (first < 0 || second < 0) throw new FormatError("vkey must have the form <name>+<key id>+<key>");
  const name = vkey.slice(0, first);
  const hexId = vkey.slice(first + 1, second);
  if (!validKeyName(name)) throw new FormatError(`invalid key name in vkey: '${name}'`);
  if (!/^[0-9a-fA-F]{8}$/.test(hexId)) throw new FormatError("vkey key ID must be 8 hex digits");
  let raw;
  try {
    raw = decodeBase64(vkey.slice(second + 1));
  } catch (error) {
    throw new FormatError(`vkey key is not valid base64: ${error.message}`);
  }
  if (raw.length < 2) throw new FormatError("vkey key is too short");
  const type = raw[0];
  const publicKey = raw.subarray(1);
  if (type !== ED25519 && type !== COSIGNATURE) {
    throw new FormatError(`unsupported vkey signature type 0x${type.toString(16).padStart(2, "0")}`);
  }
  if (publicKey.length !== 32) throw new FormatError("an Ed25519 public key is 32 bytes");
  const id = await keyId(name, type, publicKey);
  if (!equalBytes(fromHex(hexId.toLowerCase()), id)) {
    throw new FormatError(`vkey key ID ${hexId} does not match its name and key (${toHex(id)})`);
  }
  return { name, id, type, publicKey, vkey };
}

function parseSignatureLine(line) {
  // signed-note: em dash, space, key name, space, base64(key ID || signature).
  if (!line.startsWith(EM_DASH_SPACE)) {
    throw new FormatError("signature line must start with an em dash (U+2014) and a space");
  }
  const rest = line.slice(EM_DASH_SPACE.length);
  const space = rest.indexOf(" ");
  if (space < 0) throw new FormatError("signature line has no space between key name and signature");
  const name = rest.slice(0, space);
  if (!validKeyName(name)) throw new FormatError(`invalid key name in signature line: '${name}'`);
  let raw;
  try {
    raw = decodeBase64(rest.slice(space + 1));
  } catch (error) {
    throw new FormatError(`signature of '${name}' is not valid base64: ${error.message}`);
  }
  if (raw.length <= 4) throw new FormatError(`signature of '${name}' is too short`);
  return { name, id: raw.subarray(0, 4), signature: raw.subarray(4) };
}

/** signed-note: the text (ending in a newline), a blank line, then signature lines. */
export function parseNote(bytes) {
  if (bytes.length > MAX_NOTE_BYTES) throw new FormatError(`note is larger than ${MAX_NOTE_BYTES} bytes`);
  let text;
  try {
    text = decodeUtf8(bytes);
  } catch {
    throw new FormatError("note is not valid UTF-8");
  }
  if (NOTE_CONTROL.test(text)) throw new FormatError("note contains an ASCII control character");
  // signed-note: the text is separated from the signatures by the last empty line.
  const split = text.lastIndexOf("\n\n");
  if (split < 0) throw new FormatError("note has no blank line before its signatures");
  const body = text.slice(0, split + 1);
  const block = text.slice(split + 2);
  if (!block) throw new FormatError("note has no signature lines");
  if (!block.endsWith("\n")) throw new FormatError("note must end with a newline after its last signature");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new FormatError(`more than ${MAX_SIGNATURES} signature lines`);
  return { text: body, signatures: lines.map(parseSignatureLine) };
}

function signaturesFor(note, key) {
  return note.signatures.filter((sig) => sig.name === key.name && equalBytes(sig.id, key.id));
}

const CHECKPOINT_CONTROL = /[\x00-\x1f]/;

/** tlog-checkpoint: origin, decimal tree size, base64 root hash, then extension lines. */
export function parseCheckpoint(text) {
  if (!text.endsWith("\n")) throw new FormatError("checkpoint body must end with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new FormatError("checkpoint body has fewer than three lines");
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  for (const [line, what] of [[origin, "origin"], ...extensions.map((line) => [line, "extension line"])]) {
    if (!line) throw new FormatError(`checkpoint ${what} is empty`);
    if (CHECKPOINT_CONTROL.test(line)) throw new FormatError(`checkpoint ${what} contains a newline or control character`);
  }
  let size;
  try {
    size = parseDecimal(sizeLine, MAX_TREE_SIZE);
  } catch (error) {
    throw new FormatError(`checkpoint tree size is invalid: ${error.message}`);
  }
  let root;
  try {
    root = decodeBase64(rootLine);
  } catch (error) {
    throw new FormatError(`checkpoint root hash is not valid base64: ${error.message}`);
  }
  if (root.length !== 32) throw new FormatError(`checkpoint root hash is ${root.length} bytes, not 32`);
  return { origin, size, root, extensions, text };
}

/** signed-note "Ed25519 signatures": whether every line of the key verifies (and one exists). */
export async function noteSignedBy(note, key) {
  const sigs = signaturesFor(note, key);
  if (!sigs.length) return null;
  const message = utf8(note.text);
  for (const sig of sigs) {
    if (!(await verifyEd25519(key.publicKey, sig.signature, message))) return false;
  }
  return true;
}

/**
 * tlog-cosignature: a witness's lines on the note. Returns null without a line of its
 * key, false when one does not verify, else the newest cosigned timestamp (seconds).
 */
export async function cosignedBy(note, key, body) {
  const sigs = signaturesFor(note, key);
  if (!sigs.length) return null;
  let newest = -1n;
  for (const sig of sigs) {
    // timestamped_signature = u64 timestamp (big-endian) || Ed25519 signature
    if (sig.signature.length !== 8 + 64) return false;
    const stamp = sig.signature.subarray(0, 8).reduce((n, b) => n * 256n + BigInt(b), 0n);
    if (stamp > MAX_TIMESTAMP) return false;
    const message = utf8(`cosignature/v1\ntime ${stamp}\n${body}`);
    if (!(await verifyEd25519(key.publicKey, sig.signature.subarray(8), message))) return false;
    if (stamp > newest) newest = stamp;
  }
  return newest;
}

export const PROOF_HEADER = "c2sp.org/tlog-proof@v1";
export const MAX_PROOF_BYTES = 2 * MAX_NOTE_BYTES;

/** C2SP tlog-proof: header, optional extra, index, hashes, blank line, checkpoint note. */
export function parseTlogProof(bytes) {
  if (bytes.length > MAX_PROOF_BYTES) throw new FormatError(`proof is larger than ${MAX_PROOF_BYTES} bytes`);
  let at = 0;
  const next = () => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) throw new FormatError("proof ends before its checkpoint");
    const raw = bytes.subarray(at, end);
    at = end + 1;
    if (raw.some((b) => b < 0x20 || b >= 0x7f)) throw new FormatError("proof header line is not printable ASCII");
    return String.fromCharCode(...raw);
  };
  if (next() !== PROOF_HEADER) throw new FormatError(`proof does not start with '${PROOF_HEADER}'`);
  let line = next();
  let extra = null;
  if (line.startsWith("extra ")) {
    try {
      extra = decodeBase64(line.slice(6));
    } catch (error) {
      throw new FormatError(`proof extra data is not valid base64: ${error.message}`);
    }
    if (!extra.length) throw new FormatError("proof extra line carries no data");
    line = next();
  }
  if (!line.startsWith("index ")) throw new FormatError("proof has no `index` line");
  let index;
  try {
    index = parseDecimal(line.slice(6), MAX_TREE_SIZE);
  } catch (error) {
    throw new FormatError(`proof index is invalid: ${error.message}`);
  }
  const hashes = [];
  while ((line = next()) !== "") {
    if (hashes.length === 64) throw new FormatError("inclusion proof has more than 64 hashes");
    let hash;
    try {
      hash = decodeBase64(line);
    } catch (error) {
      throw new FormatError(`inclusion proof hash is not valid base64: ${error.message}`);
    }
    if (hash.length !== 32) throw new FormatError(`inclusion proof hash is ${hash.length} bytes, not 32`);
    hashes.push(hash);
  }
  let note;
  try {
    note = parseNote(bytes.subarray(at));
    parseCheckpoint(note.text);
  } catch (error) {
    throw new FormatError(`proof checkpoint is not a valid checkpoint note: ${error.message}`);
  }
  return { index, hashes, note, extra };
}
