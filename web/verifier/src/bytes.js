// Small byte helpers shared by the verifier's modules: hex, strict base64, UTF-8.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

export function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concat(...parts) {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function utf8(text) {
  return encoder.encode(text);
}

/** Decode UTF-8 strictly (no replacement characters); throws TypeError on bad bytes. */
export function decodeUtf8(bytes) {
  return strictDecoder.decode(bytes);
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;
const B64_SHAPE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function encodeBase64(bytes) {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  if (i + 1 === bytes.length) {
    const n = bytes[i] << 16;
    out += B64[n >> 18] + B64[(n >> 12) & 63] + "==";
  } else if (i + 2 === bytes.length) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + "=";
  }
  return out;
}

/**
 * Standard padded base64 (RFC 4648 4), canonical only: non-zero pad bits are refused
 * (RFC 4648 3.5), so two strings never decode to the same bytes. Throws Error.
 */
export function decodeBase64(text) {
  if (!B64_SHAPE.test(text)) throw new Error("not padded standard base64");
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let at = 0;
  for (let i = 0; i < text.length; i += 4) {
    const a = B64_INDEX[text.charCodeAt(i)];
    const b = B64_INDEX[text.charCodeAt(i + 1)];
    const c = text[i + 2] === "=" ? 0 : B64_INDEX[text.charCodeAt(i + 2)];
    const d = text[i + 3] === "=" ? 0 : B64_INDEX[text.charCodeAt(i + 3)];
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    if (at < out.length) out[at++] = n >> 16;
    if (at < out.length) out[at++] = (n >> 8) & 255;
    if (at < out.length) out[at++] = n & 255;
  }
  if (encodeBase64(out) !== text) throw new Error("non-canonical base64 (non-zero padding bits)");
  return out;
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/** ASCII decimal without leading zeros, at most `max` (a BigInt); returns a BigInt. */
export function parseDecimal(text, max) {
  if (!DECIMAL.test(text)) throw new Error(`not an ASCII decimal without leading zeros: ${JSON.stringify(text.slice(0, 24))}`);
  if (text.length > max.toString().length) throw new Error(`decimal ${text.slice(0, 24)}... is out of range`);
  const value = BigInt(text);
  if (value > max) throw new Error(`decimal ${value} is out of range (max ${max})`);
  return value;
}
