// Strict JSON reading and RFC 8785 (JCS) canonical encoding for entries and manifests.
//
// The reader refuses what the format cannot carry (spec 2: no floating-point numbers;
// RFC 8785 3.2.2.3 / I-JSON: integers within +-(2^53-1)), duplicate object keys, lone
// surrogates and nesting deeper than MAX_DEPTH containers, before anything recursive can
// run away. Canonical form is proven by re-encoding the parsed value and comparing.

import { decodeUtf8 } from "./bytes.js";

export const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 2^53 - 1
// NOTE: the spec sets no depth limit. 64 containers is what the Python reader accepts;
// entries and manifests nest four levels at most.
export const MAX_DEPTH = 64;

export class JsonError extends Error {}

/** Parse strict JSON text; objects come back as null-prototype objects. */
export function parseJson(text) {
  const parser = new Parser(text);
  parser.space();
  const value = parser.value(1);
  parser.space();
  if (parser.at !== text.length) parser.fail("unexpected data after the JSON value");
  return value;
}

/** Bytes -> value; throws JsonError naming the defect (UTF-8, syntax, keys, numbers, depth). */
export function parseJsonBytes(bytes) {
  let text;
  try {
    text = decodeUtf8(bytes);
  } catch {
    throw new JsonError("not valid UTF-8");
  }
  return { value: parseJson(text), text };
}

/**
 * Parse bytes that must be RFC 8785 canonical. Returns {value, canonical}: a value that
 * parses but re-encodes differently is returned with canonical false (the verifier fails
 * check 1 and still follows it); anything else throws JsonError.
 */
export function parseCanonical(bytes) {
  const { value, text } = parseJsonBytes(bytes);
  // UTF-8 is one-to-one, so equal text is equal bytes.
  return { value, canonical: canonicalText(value) === text };
}

/** RFC 8785: the canonical JSON text of a value (integers only: spec 2 has no floats). */
export function canonicalText(value) {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isSafeInteger(value)) throw new JsonError(`cannot encode number ${value}`);
      // RFC 8785 3.2.2.3 is ECMAScript Number serialization; for safe integers that is
      // the plain decimal (and -0 becomes 0).
      return String(value);
    case "string":
      // RFC 8785 3.2.2.2 is JSON.stringify's string form (ES2019: lone surrogates escaped).
      return JSON.stringify(value);
    default:
      break;
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalText).join(",") + "]";
  // RFC 8785 3.2.3: members sorted by the UTF-16 code units of their names, which is how
  // JavaScript compares strings.
  const keys = Object.keys(value).sort();
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    if (i) out += ",";
    out += JSON.stringify(keys[i]) + ":" + canonicalText(value[keys[i]]);
  }
  return out + "}";
}

class Parser {
  constructor(text) {
    this.text = text;
    this.at = 0;
  }

  fail(message) {
    throw new JsonError(`not valid JSON: ${message} at character ${this.at}`);
  }

  space() {
    const text = this.text;
    let at = this.at;
    for (;;) {
      const c = text.charCodeAt(at);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) at++;
      else break;
    }
    this.at = at;
  }

  value(depth) {
    const c = this.text.charCodeAt(this.at);
    if (c === 0x22) return this.string();
    if (c === 0x7b) return this.object(depth);
    if (c === 0x5b) return this.array(depth);
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.text.startsWith("true", this.at)) {
      this.at += 4;
      return true;
    }
    if (this.text.startsWith("false", this.at)) {
      this.at += 5;
      return false;
    }
    if (this.text.startsWith("null", this.at)) {
      this.at += 4;
      return null;
    }
    if (this.at >= this.text.length) this.fail("unexpected end");
    return this.fail("unexpected character");
  }

  nest(depth) {
    if (depth > MAX_DEPTH) throw new JsonError(`JSON nested deeper than ${MAX_DEPTH} levels`);
  }

  object(depth) {
    this.nest(depth);
    this.at++;
    const out = Object.create(null);
    this.space();
    if (this.text.charCodeAt(this.at) === 0x7d) {
      this.at++;
      return out;
    }
    for (;;) {
      if (this.text.charCodeAt(this.at) !== 0x22) this.fail("expected a member name");
      const key = this.string();
      this.space();
      if (this.text.charCodeAt(this.at) !== 0x3a) this.fail("expected ':'");
      this.at++;
      this.space();
      const item = this.value(depth + 1);
      if (Object.prototype.hasOwnProperty.call(out, key)) {
        throw new JsonError(`duplicate object key ${pyRepr(key)}`);
      }
      out[key] = item;
      this.space();
      const c = this.text.charCodeAt(this.at);
      this.at++;
      if (c === 0x7d) return out;
      if (c !== 0x2c) {
        this.at--;
        this.fail("expected ',' or '}'");
      }
      this.space();
    }
  }

  array(depth) {
    this.nest(depth);
    this.at++;
    const out = [];
    this.space();
    if (this.text.charCodeAt(this.at) === 0x5d) {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.space();
      const c = this.text.charCodeAt(this.at);
      this.at++;
      if (c === 0x5d) return out;
      if (c !== 0x2c) {
        this.at--;
        this.fail("expected ',' or ']'");
      }
      this.space();
    }
  }

  number() {
    const text = this.text;
    const start = this.at;
    let at = start;
    if (text.charCodeAt(at) === 0x2d) at++;
    const first = text.charCodeAt(at);
    if (first === 0x30) at++;
    else if (first >= 0x31 && first <= 0x39) {
      while (at < text.length && text.charCodeAt(at) >= 0x30 && text.charCodeAt(at) <= 0x39) at++;
    } else {
      this.at = at;
      this.fail("bad number");
    }
    const next = text.charCodeAt(at);
    if (next === 0x2e || next === 0x65 || next === 0x45) {
      throw new JsonError("floating-point numbers are not allowed (spec 2)");
    }
    this.at = at;
    const digits = text.slice(start, at);
    const bare = digits.startsWith("-") ? digits.slice(1) : digits;
    if (bare.length > 16 || Number(bare) > MAX_SAFE) {
      throw new JsonError(`integer ${digits.slice(0, 40)}${digits.length > 40 ? "..." : ""} is beyond 2^53-1 (RFC 8785 3.2.2.3)`);
    }
    return Number(digits);
  }

  string() {
    const text = this.text;
    let at = this.at + 1;
    let out = "";
    let run = at;
    for (;;) {
      if (at >= text.length) {
        this.at = at;
        this.fail("unterminated string");
      }
      const c = text.charCodeAt(at);
      if (c === 0x22) {
        out += text.slice(run, at);
        this.at = at + 1;
        return out;
      }
      if (c < 0x20) {
        this.at = at;
        this.fail("control character in a string");
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        // Strict UTF-8 decoding leaves only proper pairs; checked again for text input.
        const pair = c <= 0xdbff && isLow(text.charCodeAt(at + 1));
        if (!pair) {
          this.at = at;
          this.fail("lone surrogate");
        }
        at += 2;
        continue;
      }
      if (c !== 0x5c) {
        at++;
        continue;
      }
      out += text.slice(run, at);
      const e = text[at + 1];
      at += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case "\\":
          out += "\\";
          break;
        case "/":
          out += "/";
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const unit = this.hex4(at);
          at += 4;
          if (unit >= 0xd800 && unit <= 0xdbff) {
            if (text[at] !== "\\" || text[at + 1] !== "u") {
              this.at = at;
              this.fail("lone surrogate escape");
            }
            const low = this.hex4(at + 2);
            if (!isLow(low)) {
              this.at = at;
              this.fail("lone surrogate escape");
            }
            at += 6;
            out += String.fromCharCode(unit, low);
          } else if (isLow(unit)) {
            this.at = at;
            this.fail("lone surrogate escape");
          } else {
            out += String.fromCharCode(unit);
          }
          break;
        }
        default:
          this.at = at - 1;
          this.fail("bad escape");
      }
      run = at;
    }
  }

  hex4(at) {
    const digits = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) {
      this.at = at;
      this.fail("bad \\u escape");
    }
    return parseInt(digits, 16);
  }
}

function isLow(unit) {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** A key shown as Python's repr would show it, so messages read alike in both verifiers. */
export function pyRepr(text) {
  return text.includes("'") && !text.includes('"') ? JSON.stringify(text) : `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}
