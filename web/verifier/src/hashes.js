// Hash functions and Ed25519, the only primitives the format needs (spec 3).
//
// SHA-256 one-shots and Ed25519 go through WebCrypto. WebCrypto's digest is one-shot and
// asynchronous, so streams (content files) and the per-entry leaf hashes use hash-wasm's
// incremental SHA-256; BLAKE3 and the ZIP's CRC-32 come from hash-wasm as well.

import { createBLAKE3, createCRC32, createSHA256 } from "hash-wasm";

import { concat } from "./bytes.js";

let leafHasher = null;

/** Load the WASM hashers once; call before any synchronous hashing. */
export async function ready() {
  if (leafHasher === null) leafHasher = await createSHA256();
}

/** RFC 9162 2.1.1: SHA-256(0x00 || entry bytes), synchronously (hot loop). */
export function leafHash(bytes) {
  leafHasher.init();
  leafHasher.update(LEAF_PREFIX);
  leafHasher.update(bytes);
  return leafHasher.digest("binary");
}

/** RFC 9162 2.1.1: SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  leafHasher.init();
  leafHasher.update(NODE_PREFIX);
  leafHasher.update(left);
  leafHasher.update(right);
  return leafHasher.digest("binary");
}

export function sha256Sync(bytes) {
  leafHasher.init();
  leafHasher.update(bytes);
  return leafHasher.digest("binary");
}

const LEAF_PREFIX = new Uint8Array([0]);
const NODE_PREFIX = new Uint8Array([1]);

export async function sha256(bytes) {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes));
}

/** The three digests of one content file, fed slice by slice (spec 3, spec 6.6). */
export async function contentHashers() {
  const [sha, blake, crc] = await Promise.all([createSHA256(), createBLAKE3(256), createCRC32()]);
  sha.init();
  blake.init();
  return { sha, blake, crc };
}

export async function crc32Hasher() {
  const crc = await createCRC32();
  crc.init();
  return crc;
}

export class CryptoUnavailableError extends Error {}

/** Whether this environment can verify Ed25519 through WebCrypto at all. */
export async function ed25519Available() {
  try {
    const subtle = globalThis.crypto && globalThis.crypto.subtle;
    if (!subtle) return false;
    await subtle.importKey("raw", new Uint8Array(32).fill(1), { name: "Ed25519" }, false, ["verify"]);
    return true;
  } catch {
    return false;
  }
}

const keyCache = new Map();

/** RFC 8032 Ed25519 verification through WebCrypto; false for a malformed key or signature. */
export async function verifyEd25519(publicKey, signature, message) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle) throw new CryptoUnavailableError("WebCrypto is not available (the page needs a secure context: file:// or https://)");
  const id = publicKey.join(",");
  let key = keyCache.get(id);
  if (key === undefined) {
    try {
      key = await subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (error) {
      if (error && error.name === "NotSupportedError") {
        throw new CryptoUnavailableError("this browser cannot verify Ed25519 signatures through WebCrypto");
      }
      key = null; // not a point on the curve: no signature of it can verify
    }
    keyCache.set(id, key);
  }
  if (key === null) return false;
  try {
    return await subtle.verify({ name: "Ed25519" }, key, signature, message);
  } catch {
    return false;
  }
}

export { concat };
