// C2SP tlog-policy: trusted logs, witnesses, groups and the quorum; and the check of a
// cosigned checkpoint against a policy (spec 6 check 5).

import { decodeUtf8, parseDecimal } from "./bytes.js";
import { COSIGNATURE, ED25519, FormatError, cosignedBy, noteSignedBy, parseVkey } from "./note.js";

const MAX_POLICY_BYTES = 1 << 20;
// tlog-policy "Implementation limits": at least 32 of each.
const MAX_ENTRIES = 256;
// tlog-policy "Character set": tab, newline, 0x20-0x7E and 0x80-0xFF only.
const FORBIDDEN = /[\x00-\x08\x0b-\x1f\x7f]/;
const TOKEN_FORBIDDEN = /[\x00-\x20\x7f]/;
const NONE = "none";

function checkToken(value, what) {
  if (!value || TOKEN_FORBIDDEN.test(value)) throw new FormatError(`${what} '${value}' is empty or contains whitespace`);
}

function checkName(name) {
  checkToken(name, "name");
  if (name === NONE) throw new FormatError("`none` is predefined and cannot name a witness or group");
}

/** Parse a tlog-policy strictly (bytes or text); throws FormatError. */
export async function parsePolicy(input) {
  let text = input;
  if (typeof input !== "string") {
    if (input.length > MAX_POLICY_BYTES) throw new FormatError("policy is too large");
    try {
      text = decodeUtf8(input);
    } catch {
      throw new FormatError("policy is not valid UTF-8");
    }
  }
  if (text.length > MAX_POLICY_BYTES) throw new FormatError("policy is too large");
  const bad = FORBIDDEN.exec(text);
  if (bad) {
    const line = text.slice(0, bad.index).split("\n").length;
    throw new FormatError(`line ${line}: control character ${JSON.stringify(bad[0])} is not allowed (only tab and newline are)`);
  }
  // tlog-policy: each line is terminated by a newline.
  if (text && !text.endsWith("\n")) throw new FormatError("policy must end with a newline");
  const policy = { logs: [], witnesses: [], groups: new Map(), quorum: null };
  const defined = new Set();
  let quorumLine = 0;
  const lines = text.split("\n").slice(0, -1);
  for (let number = 1; number <= lines.length; number++) {
    const line = lines[number - 1].replace(/^[ \t]+|[ \t]+$/g, "");
    if (!line || line.startsWith("#")) continue;
    const [keyword, ...args] = line.split(/[ \t]+/);
    try {
      if (keyword === "log" && (args.length === 1 || args.length === 2)) {
        await addLog(policy, args);
      } else if (keyword === "witness" && (args.length === 2 || args.length === 3)) {
        await addWitness(policy, defined, args);
      } else if (keyword === "group" && args.length >= 3) {
        addGroup(policy, defined, args);
      } else if (keyword === "quorum" && args.length === 1) {
        // tlog-policy: exactly one quorum line, naming something defined before it or none.
        if (quorumLine) throw new FormatError(`second quorum line (first on line ${quorumLine})`);
        if (args[0] !== NONE && !defined.has(args[0])) {
          throw new FormatError(`quorum '${args[0]}' is not a witness or group defined before it`);
        }
        policy.quorum = args[0] === NONE ? null : args[0];
        quorumLine = number;
      } else if (["log", "witness", "group", "quorum"].includes(keyword)) {
        throw new FormatError(`wrong number of items on a ${keyword} line`);
      } else {
        throw new FormatError(`unknown directive '${keyword}'`);
      }
    } catch (error) {
      throw new FormatError(`line ${number}: ${error.message}`);
    }
  }
  if (!quorumLine) throw new FormatError("policy has no quorum line");
  return policy;
}

async function addLog(policy, [vkey, url]) {
  let key;
  try {
    key = await parseVkey(vkey);
  } catch (error) {
    throw new FormatError(`log vkey: ${error.message}`);
  }
  if (key.type !== ED25519) throw new FormatError("log vkey: a log key has type 0x01 (Ed25519)");
  if (url !== undefined) checkToken(url, "URL");
  // tlog-policy: duplicate logs (the same public key) are not allowed.
  if (policy.logs.some((log) => log.publicKey.every((b, i) => b === key.publicKey[i]))) {
    throw new FormatError(`duplicate log key ${vkey}`);
  }
  if (policy.logs.length === MAX_ENTRIES) throw new FormatError(`more than ${MAX_ENTRIES} logs`);
  policy.logs.push(key);
}

async function addWitness(policy, defined, [name, vkey, url]) {
  checkName(name);
  let key;
  try {
    key = await parseVkey(vkey);
  } catch (error) {
    throw new FormatError(`witness '${name}' vkey: ${error.message}`);
  }
  if (key.type !== COSIGNATURE) throw new FormatError(`witness '${name}' vkey: a witness key has type 0x04 (cosignature/v1)`);
  if (url !== undefined) checkToken(url, "URL");
  if (defined.has(name)) throw new FormatError(`name '${name}' is defined twice`);
  // tlog-policy: two vkeys wrapping the same public key are duplicates.
  for (const other of policy.witnesses) {
    if (other.publicKey.every((b, i) => b === key.publicKey[i])) {
      throw new FormatError(`witnesses '${other.label}' and '${name}' have the same public key`);
    }
  }
  if (policy.witnesses.length === MAX_ENTRIES) throw new FormatError(`more than ${MAX_ENTRIES} witnesses`);
  policy.witnesses.push({ ...key, label: name });
  defined.add(name);
}

function addGroup(policy, defined, [name, threshold, ...members]) {
  checkName(name);
  let k;
  if (threshold === "all") k = members.length;
  else if (threshold === "any") k = 1;
  else {
    try {
      k = Number(parseDecimal(threshold, BigInt(2 * MAX_ENTRIES)));
    } catch (error) {
      throw new FormatError(`group threshold '${threshold}' is not all, any or k: ${error.message}`);
    }
    if (k < 1 || k > members.length) {
      throw new FormatError(`group '${name}' threshold ${k} is not between 1 and its ${members.length} member(s)`);
    }
  }
  for (const member of members) {
    checkToken(member, "group member");
    if (member === NONE) throw new FormatError(`group '${name}': \`none\` cannot be a member`);
    // tlog-policy: a group names only witnesses and groups defined on preceding lines.
    if (!defined.has(member)) throw new FormatError(`group '${name}' names '${member}', which is not defined before it`);
  }
  if (new Set(members).size !== members.length) throw new FormatError(`group '${name}' lists a member twice`);
  if (defined.has(name)) throw new FormatError(`name '${name}' is defined twice`);
  if (policy.groups.size === MAX_ENTRIES) throw new FormatError(`more than ${MAX_ENTRIES} groups`);
  policy.groups.set(name, { k, members });
  defined.add(name);
}

/** tlog-policy: a group is satisfied when k of its members are; a witness when it cosigned. */
export function quorumMet(policy, cosigners) {
  if (policy.quorum === null) return true;
  const memo = new Map();
  const witnessed = (name) => {
    if (!memo.has(name)) {
      const group = policy.groups.get(name);
      memo.set(name, group === undefined ? cosigners.has(name) : group.members.filter(witnessed).length >= group.k);
    }
    return memo.get(name);
  };
  return witnessed(policy.quorum);
}

/**
 * The log signature, every known witness's cosignature and the quorum of a checkpoint
 * note. Throws FormatError when no log key of the policy for `origin` signed it (or its
 * signature fails); otherwise returns what verified and what did not.
 */
export async function checkCosignedCheckpoint(note, policy, origin) {
  // tlog-policy: a log's key name MUST be its origin; any listed log may sign.
  const logs = policy.logs.filter((log) => log.name === origin);
  if (!logs.length) throw new FormatError(`the policy has no log key for origin '${origin}'`);
  let signed = false;
  for (const log of logs) {
    const result = await noteSignedBy(note, log);
    // signed-note: a known key's signature that fails makes the note untrusted.
    if (result === false) throw new FormatError(`log signature of ${log.vkey} does not verify`);
    if (result === true) signed = true;
  }
  if (!signed) throw new FormatError(`checkpoint has no signature from a log key for origin '${origin}'`);
  const cosigners = new Map();
  const bad = [];
  for (const witness of policy.witnesses) {
    // signed-note: lines whose (name, key ID) is no known key are ignored.
    const stamp = await cosignedBy(note, witness, note.text);
    if (stamp === false) bad.push(witness.label);
    else if (stamp !== null) cosigners.set(witness.label, stamp);
  }
  return { cosigners, bad, quorumMet: quorumMet(policy, new Set(cosigners.keys())) };
}
