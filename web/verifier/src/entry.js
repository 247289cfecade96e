// Custody log entries (spec 2): the fields every entry has, and the `data` each event
// type requires (spec 2.1). A value returned here is a well-formed entry; anything else
// throws EntryError naming the first bad field, for check 1.

import { MAX_SAFE } from "./json.js";

export class EntryError extends Error {}

export const ZERO_HEX = "0".repeat(64);
export const COURT_ROLES = new Set(["judge", "defence"]);
const ENTRY_KEYS = ["actor", "case", "data", "exhibit", "exhibit_prev", "prev", "seq", "time", "type", "v"];
const ACTOR_KEYS = ["jurisdiction", "role", "sub", "token"];
const HEX64 = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// spec 2: UTC, RFC 3339 with microseconds and Z. Fixed width, so it sorts as text.
const TIME = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z$/;

const isStr = (v) => typeof v === "string";
const isInt = (v) => typeof v === "number" && Number.isSafeInteger(v);
const isCount = (v) => isInt(v) && v >= 0;
const isHex = (v) => typeof v === "string" && HEX64.test(v);
const isBool = (v) => typeof v === "boolean";
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isStrList = (v) => Array.isArray(v) && v.every(isStr);
const isRange = (v) => v === null || (Array.isArray(v) && v.length === 2 && v.every(isCount) && v[0] <= v[1]);

const STR = [isStr, "a string"];
const HEX = [isHex, "64 lowercase hex characters"];
const COUNT = [isCount, "a non-negative integer"];
const SEQ = [isCount, "an integer (the seq of an entry)"];

// spec 2.1: type -> [exhibit rule, {field: [test, what it must be]}].
export const EVENT_TYPES = new Map([
  ["case.created", ["null", { title: STR, parties: [isStrList, "a list of jurisdiction codes"], agreement: STR }]],
  ["case.party_proposed", ["null", { jurisdiction: STR }]],
  ["case.party_approved", ["null", { proposal: SEQ }]],
  ["case.party_added", ["null", { jurisdiction: STR, proposal: SEQ }]],
  ["case.party_removed", ["null", { jurisdiction: STR }]],
  [
    "case.access_granted",
    [
      "null",
      {
        jurisdiction: STR,
        sub: STR,
        role: [(v) => v === "judge" || v === "defence", '"judge" or "defence"'],
        exhibits: [(v) => v === null || isStrList(v), "null or a list of exhibit ids"],
      },
    ],
  ],
  ["case.access_revoked", ["null", { jurisdiction: STR, sub: STR, role: STR }]],
  ["case.policy_set", ["null", { policy: STR }]],
  ["exhibit.registered", ["id", { label: STR, owner: STR, description: STR, acquisition: [isObject, "an object"] }]],
  ["exhibit.ingested", ["id", { size: COUNT, sha256: HEX, blake3: HEX, filename: STR, media_type: STR }]],
  ["exhibit.ingest_rejected", ["id", { reason: STR, size: COUNT, sha256: HEX, expected_sha256: HEX }]],
  ["exhibit.accessed", ["id", { purpose: STR, range: [isRange, "null or [first, last] byte offsets"] }]],
  ["exhibit.verified", ["id", { ok: [isBool, "a boolean"], sha256: HEX, blake3: HEX }]],
  ["exhibit.shared", ["id", { jurisdiction: STR, conditions: STR }]],
  ["exhibit.share_revoked", ["id", { jurisdiction: STR, conditions: STR }]],
  ["exhibit.sealed", ["id", { reason: STR }]],
  ["exhibit.hold_set", ["id", { reason: STR, authority: STR }]],
  ["exhibit.hold_released", ["id", { reason: STR, hold: SEQ }]],
  ["exhibit.disposed", ["id", { reason: STR, authority: STR }]],
  ["note.added", ["id or null", { commitment: HEX }]],
  [
    "export.created",
    [
      "null",
      {
        bundle_sha256: HEX,
        exhibits: [isStrList, "a list of exhibit ids"],
        disclosure: [(v) => v === "full" || v === "selective", '"full" or "selective"'],
        recipient: STR,
      },
    ],
  ],
]);

const validDays = new Set();

/** spec 2 `time` (also the manifest's `created`): the pattern and a real calendar day. */
export function validTime(text) {
  if (typeof text !== "string") return false;
  const match = TIME.exec(text);
  if (match === null) return false;
  const day = text.slice(0, 10);
  if (validDays.has(day)) return true;
  const [year, month, date] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  const ok = year >= 1 && month >= 1 && month <= 12 && date >= 1 && date <= days;
  if (ok && validDays.size < 4096) validDays.add(day);
  return ok;
}

function sameKeys(object, keys) {
  const own = Object.keys(object);
  return own.length === keys.length && keys.every((key) => Object.prototype.hasOwnProperty.call(object, key));
}

function fail(seq, message) {
  return new EntryError(`${isInt(seq) ? `entry seq ${seq}` : "entry"}: ${message}`);
}

/** spec 2: check a parsed entry object; returns it (typed) or throws EntryError. */
export function checkEntry(obj) {
  if (!isObject(obj)) throw fail(null, "is not a JSON object");
  const seq = obj.seq;
  if (!sameKeys(obj, ENTRY_KEYS)) {
    const missing = ENTRY_KEYS.filter((key) => !Object.prototype.hasOwnProperty.call(obj, key));
    if (missing.length) throw fail(seq, `missing field(s) ${missing.join(", ")}`);
    throw fail(seq, `unknown field(s) ${Object.keys(obj).filter((key) => !ENTRY_KEYS.includes(key)).sort().join(", ")}`);
  }
  if (obj.v !== 1) throw fail(seq, "v must be 1");
  if (!isCount(seq) || seq > MAX_SAFE) throw fail(null, "seq must be a non-negative integer below 2^53");
  if (!isStr(obj.case) || !UUID.test(obj.case)) throw fail(seq, "case must be a lowercase canonical UUID");
  if (!isHex(obj.prev)) throw fail(seq, "prev must be 64 lowercase hex characters");
  if (seq === 0 && obj.prev !== ZERO_HEX) throw fail(seq, "prev of the first entry must be 64 zeros");
  if (!validTime(obj.time)) {
    throw fail(seq, isStr(obj.time) ? `time '${obj.time}' is not RFC 3339 UTC with microseconds and Z` : "time must be a string");
  }
  checkActor(seq, obj.actor);
  if (!isStr(obj.type) || !obj.type) throw fail(seq, "type must be a non-empty string");
  if (obj.exhibit === null) {
    if (obj.exhibit_prev !== null) throw fail(seq, "exhibit_prev must be null when exhibit is null");
  } else {
    if (!isStr(obj.exhibit) || !obj.exhibit) throw fail(seq, "exhibit must be a non-empty string or null");
    if (!isHex(obj.exhibit_prev)) throw fail(seq, "exhibit_prev must be 64 lowercase hex characters");
  }
  if (!isObject(obj.data)) throw fail(seq, "data must be an object");
  checkData(seq, obj.type, obj.exhibit, obj.data);
  return obj;
}

function checkActor(seq, actor) {
  if (!isObject(actor) || !sameKeys(actor, ACTOR_KEYS)) {
    throw fail(seq, "actor must be an object with jurisdiction, sub, role, token");
  }
  // NOTE: spec 2 says str; an empty name identifies nobody, so it is refused (as the
  // Python verifier does).
  for (const name of ["jurisdiction", "sub", "role"]) {
    if (!isStr(actor[name]) || !actor[name]) throw fail(seq, `actor.${name} must be a non-empty string`);
  }
  if (actor.token !== null && !isStr(actor.token)) throw fail(seq, "actor.token must be a string or null");
}

function checkData(seq, type, exhibit, data) {
  const rule = EVENT_TYPES.get(type);
  if (rule === undefined) return; // spec 2.1: unknown types are reported, not failed
  const [exhibitRule, fields] = rule;
  if (exhibitRule === "id" && exhibit === null) throw fail(seq, `type ${type} must name an exhibit`);
  if (exhibitRule === "null" && exhibit !== null) throw fail(seq, `type ${type} must have exhibit null`);
  for (const [name, [test, what]] of Object.entries(fields)) {
    if (!Object.prototype.hasOwnProperty.call(data, name)) throw fail(seq, `data.${name} is missing (required for ${type})`);
    if (!test(data[name])) throw fail(seq, `data.${name} must be ${what}`);
  }
}
