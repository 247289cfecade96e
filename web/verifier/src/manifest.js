// The manifest of a court bundle (spec 5): read, parsed as RFC 8785 JSON, and its fields
// typed. A manifest without them is no bundle this verifier reads (verdict "error");
// whether it is canonical, and log_size >= tree_size, are check 1's, in verify.js.

import { JsonError, parseCanonical } from "./json.js";
import { BundleFormatError, MemberError } from "./zip.js";

export const FORMAT = "jitc-bundle/1";
export const MANIFEST = "jitc-bundle.json";
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

/** The manifest of `archive` (a ZipArchive), with `canonical` telling whether it is. */
export async function readManifest(archive) {
  if (!archive.has(MANIFEST)) throw new BundleFormatError(`${MANIFEST} is missing: this is not a jitc bundle`);
  let bytes;
  try {
    bytes = await archive.readAll(MANIFEST, { limit: MAX_MANIFEST_BYTES });
  } catch (error) {
    if (error instanceof MemberError) throw new BundleFormatError(error.message);
    throw error;
  }
  let parsed;
  try {
    parsed = parseCanonical(bytes);
  } catch (error) {
    if (error instanceof JsonError) throw new BundleFormatError(`${MANIFEST}: ${error.message}`);
    throw error;
  }
  const manifest = manifestFields(parsed.value);
  manifest.canonical = parsed.canonical;
  return manifest;
}

function field(object, name, test) {
  const value = object[name];
  if (!test(value)) throw new BundleFormatError(`${MANIFEST}: field '${name}' is missing or has the wrong type`);
  return value;
}

function optional(object, name, test) {
  const value = object[name] === undefined ? null : object[name];
  if (value !== null && !test(value)) throw new BundleFormatError(`${MANIFEST}: exhibit field '${name}' has the wrong type`);
  return value;
}

const isStr = (v) => typeof v === "string";
const isInt = (v) => typeof v === "number" && Number.isSafeInteger(v);

/** spec 5: the manifest's fields; a manifest without them is no bundle this verifier reads. */
function manifestFields(obj) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new BundleFormatError(`${MANIFEST} is not a JSON object`);
  if (obj.format !== FORMAT) {
    const shown = isStr(obj.format) ? `'${obj.format}'` : String(obj.format === undefined ? "None" : JSON.stringify(obj.format));
    throw new BundleFormatError(`${MANIFEST}: format is ${shown}, this verifier reads '${FORMAT}'`);
  }
  const disclosure = field(obj, "disclosure", isStr);
  if (disclosure !== "full" && disclosure !== "selective") throw new BundleFormatError(`${MANIFEST}: disclosure must be 'full' or 'selective'`);
  const treeSize = field(obj, "tree_size", isInt);
  if (treeSize < 0) throw new BundleFormatError(`${MANIFEST}: tree_size must not be negative`);
  const logSize = field(obj, "log_size", isInt);
  const exhibits = [];
  const seen = new Set();
  for (const raw of field(obj, "exhibits", Array.isArray)) {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new BundleFormatError(`${MANIFEST}: every exhibit must be an object`);
    const exhibit = {
      id: field(raw, "id", isStr),
      label: field(raw, "label", isStr),
      filename: field(raw, "filename", isStr),
      size: optional(raw, "size", isInt),
      sha256: optional(raw, "sha256", isStr),
      blake3: optional(raw, "blake3", isStr),
      content: optional(raw, "content", isStr),
    };
    if (seen.has(exhibit.id)) throw new BundleFormatError(`${MANIFEST}: exhibit '${exhibit.id}' is listed twice`);
    seen.add(exhibit.id);
    exhibits.push(exhibit);
  }
  return {
    case: field(obj, "case", isStr),
    origin: field(obj, "origin", isStr),
    created: field(obj, "created", isStr),
    disclosure,
    treeSize,
    logSize,
    exhibits,
    recipient: field(obj, "recipient", isStr),
  };
}
