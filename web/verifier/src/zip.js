// A defensive ZIP reader for court bundles (spec 5), over a Blob: a browser File, or
// fs.openAsBlob() under Node. Nothing is extracted anywhere and no member is read whole
// unless asked: stored members are sliced straight from the Blob, deflated ones inflated
// as a stream, each capped at the size it declares.
//
// Refused outright (the bundle cannot be read, verdict `error`): no end record, a broken
// central directory, unsafe member names (../, absolute, backslash, NUL and other control
// characters), duplicate names, symbolic links, encrypted members, declared zip bombs and
// overlapping members. Reading one member can fail on its own (MemberError): the
// verifier then reports that member in the check it belongs to.

import { Inflate } from "fflate";

import { decodeUtf8 } from "./bytes.js";
import { crc32Hasher } from "./hashes.js";

export class BundleFormatError extends Error {}
export class MemberError extends Error {}

export const MAX_MEMBERS = 5_000_000;
// A deflated member claiming to expand more than this ratio (and not tiny) is refused:
// the exporter stores evidence uncompressed, so only a crafted archive trips it.
export const MAX_COMPRESSION_RATIO = 200;
export const RATIO_FLOOR_BYTES = 16 * 1024 * 1024;
const MAX_CENTRAL_DIRECTORY = 1024 * 1024 * 1024;
const STORED_SLICE = 2 * 1024 * 1024;
// Compressed bytes fed to the inflater at a time: deflate expands at most ~1032:1, so a
// bomb yields at most ~16 MiB before the declared-size cap stops it.
const DEFLATE_SLICE = 16 * 1024;

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

// CP437, the ZIP default for names without the UTF-8 flag (APPNOTE appendix D), 0x80-0xFF.
const CP437_HIGH =
  "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";

function cp437(bytes) {
  let out = "";
  for (const b of bytes) out += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
  return out;
}

function u16(view, at) {
  return view.getUint16(at, true);
}

function u32(view, at) {
  return view.getUint32(at, true);
}

function u64(view, at) {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

async function read(blob, start, end) {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

/** A repr of a name for messages, as the Python verifier prints it. */
export function showName(name) {
  return JSON.stringify(name).replace(/^"|"$/g, "'");
}

const CONTROL = /\p{C}/u;
const DRIVE = /^[A-Za-z]:/;

/** Refuse names that could escape a folder on extraction (zip-slip) or mislead. */
export function checkMemberName(name) {
  if (!name || [...name].length > 1024) throw new BundleFormatError("a member name is empty or too long");
  if (name.startsWith("/") || name.includes("\\") || DRIVE.test(name)) {
    throw new BundleFormatError(`member name ${showName(name)} is absolute or uses backslashes`);
  }
  for (const segment of name.split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw new BundleFormatError(`member name ${showName(name)} has an empty, '.' or '..' segment`);
    }
  }
  if (CONTROL.test(name)) throw new BundleFormatError(`member name ${showName(name)} contains control characters`);
}

export class ZipArchive {
  constructor(blob, members) {
    this.blob = blob;
    this.members = members; // Map name -> member info
  }

  static async open(blob) {
    const size = blob.size;
    const end = await findEndRecord(blob, size);
    const directory = await readCentralDirectory(blob, size, end);
    return new ZipArchive(blob, indexMembers(directory));
  }

  has(name) {
    return this.members.has(name);
  }

  size(name) {
    return this.members.get(name).size;
  }

  get names() {
    return [...this.members.keys()];
  }

  /**
   * Yield the member's bytes in chunks, at most the size it declares (or `limit`, beyond
   * which it is refused). Throws MemberError when it cannot be read as declared.
   */
  async *stream(name, { limit = null } = {}) {
    const info = this.members.get(name);
    if (info === undefined) throw new MemberError(`member ${showName(name)} is missing`);
    const cap = limit === null ? info.size : Math.min(info.size, limit);
    if (info.size > cap) throw new MemberError(`member ${showName(name)} is larger than ${cap} bytes`);
    const start = await this.dataStart(info);
    const crc = await crc32Hasher();
    let seen = 0;
    const source = info.method === 0 ? storedChunks(this.blob, start, info) : inflatedChunks(this.blob, start, info);
    for await (let chunk of source) {
      if (seen + chunk.length > info.size) chunk = chunk.subarray(0, info.size - seen);
      seen += chunk.length;
      crc.update(chunk);
      if (chunk.length) yield chunk;
      if (seen >= info.size) break;
    }
    if (crc.digest("binary").reduce((n, b) => n * 256 + b, 0) !== info.crc) {
      throw new MemberError(`member ${showName(name)} is corrupt: Bad CRC-32`);
    }
    if (seen !== info.size) throw new MemberError(`member ${showName(name)} is shorter than it declares`);
  }

  async readAll(name, { limit } = {}) {
    const parts = [];
    let size = 0;
    for await (const chunk of this.stream(name, { limit })) {
      parts.push(chunk);
      size += chunk.length;
    }
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(size);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  async dataStart(info) {
    // APPNOTE 4.3.7: the local header repeats the name; its extra field may differ.
    const header = await read(this.blob, info.headerOffset, info.headerOffset + 30);
    const view = new DataView(header.buffer);
    if (header.length < 30 || u32(view, 0) !== LOCAL) {
      throw new MemberError(`member ${showName(info.name)} is corrupt: Bad magic number for file header`);
    }
    const nameLength = u16(view, 26);
    const extraLength = u16(view, 28);
    const localName = await read(this.blob, info.headerOffset + 30, info.headerOffset + 30 + nameLength);
    if (localName.length !== info.rawName.length || localName.some((b, i) => b !== info.rawName[i])) {
      throw new MemberError(`member ${showName(info.name)} is corrupt: file name in directory and header differ`);
    }
    return info.headerOffset + 30 + nameLength + extraLength;
  }
}

async function* storedChunks(blob, start, info) {
  const end = start + Math.min(info.compressedSize, info.size);
  for (let at = start; at < end; at += STORED_SLICE) {
    const chunk = await read(blob, at, Math.min(end, at + STORED_SLICE));
    if (!chunk.length) return;
    yield chunk;
  }
}

async function* inflatedChunks(blob, start, info) {
  if (info.method !== 8) {
    throw new MemberError(`member ${showName(info.name)} cannot be read: compression method ${info.method} is not supported`);
  }
  const end = Math.min(start + info.compressedSize, blob.size);
  let out = [];
  const inflater = new Inflate((chunk) => {
    if (chunk.length) out.push(chunk);
  });
  let at = start;
  do {
    const stop = Math.min(end, at + DEFLATE_SLICE);
    const input = await read(blob, at, stop);
    at = stop;
    try {
      // The last slice is pushed as final: a stream cut short then fails here.
      inflater.push(input, at >= end);
    } catch (error) {
      throw new MemberError(`member ${showName(info.name)} is corrupt: invalid deflate data (${error.message})`);
    }
    const ready = out;
    out = [];
    for (const chunk of ready) yield chunk;
  } while (at < end);
}

async function findEndRecord(blob, size) {
  if (size < 22) throw new BundleFormatError("not a ZIP file: File is not a zip file");
  const tailStart = Math.max(0, size - (65535 + 22));
  const tail = await read(blob, tailStart, size);
  const view = new DataView(tail.buffer);
  let at = -1;
  // APPNOTE 4.3.16: the end record is the last thing in the file, before its comment.
  if (u32(view, tail.length - 22) === EOCD && u16(view, tail.length - 2) === 0) at = tail.length - 22;
  else {
    for (let i = tail.length - 22; i >= 0; i--) {
      if (u32(view, i) === EOCD) {
        at = i;
        break;
      }
    }
  }
  if (at < 0) throw new BundleFormatError("not a ZIP file: File is not a zip file");
  const record = {
    position: tailStart + at,
    size: u32(view, at + 12),
    offset: u32(view, at + 16),
    zip64: false,
  };
  // APPNOTE 4.3.15: a ZIP64 locator sits just before the end record.
  if (record.position >= 20) {
    const locator = await read(blob, record.position - 20, record.position);
    const lv = new DataView(locator.buffer);
    if (u32(lv, 0) === EOCD64_LOCATOR) {
      if (u32(lv, 4) !== 0 || u32(lv, 16) > 1) {
        throw new BundleFormatError("not a ZIP file: zipfiles that span multiple disks are not supported");
      }
      if (record.position >= 76) {
        const end64 = await read(blob, record.position - 76, record.position - 20);
        const ev = new DataView(end64.buffer);
        if (u32(ev, 0) === EOCD64) {
          record.size = u64(ev, 40);
          record.offset = u64(ev, 48);
          record.zip64 = true;
        }
      }
    }
  }
  return record;
}

async function readCentralDirectory(blob, size, end) {
  // Data prepended to the archive shifts every offset by the same amount.
  let concat = end.position - end.size - end.offset;
  if (end.zip64) concat -= 56 + 20;
  const start = end.offset + concat;
  if (start < 0) throw new BundleFormatError("not a ZIP file: Bad offset for central directory");
  if (end.size > MAX_CENTRAL_DIRECTORY) throw new BundleFormatError("the central directory is too large");
  if (start + end.size > size) throw new BundleFormatError("not a ZIP file: Truncated central directory");
  const data = await read(blob, start, start + end.size);
  const view = new DataView(data.buffer);
  const entries = [];
  let at = 0;
  while (at < data.length) {
    if (at + 46 > data.length) throw new BundleFormatError("not a ZIP file: Truncated central directory");
    if (u32(view, at) !== CENTRAL) throw new BundleFormatError("not a ZIP file: Bad magic number for central directory");
    if (entries.length >= MAX_MEMBERS) throw new BundleFormatError(`the bundle has more than ${MAX_MEMBERS} members`);
    const flags = u16(view, at + 8);
    const nameLength = u16(view, at + 28);
    const extraLength = u16(view, at + 30);
    const commentLength = u16(view, at + 32);
    const rawName = data.subarray(at + 46, at + 46 + nameLength);
    const extra = data.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength);
    const entry = {
      flags,
      method: u16(view, at + 10),
      crc: u32(view, at + 16),
      compressedSize: u32(view, at + 20),
      size: u32(view, at + 24),
      mode: u32(view, at + 38) >>> 16,
      headerOffset: u32(view, at + 42),
      rawName: rawName.slice(),
      name: "",
    };
    if (at + 46 + nameLength + extraLength + commentLength > data.length) {
      throw new BundleFormatError("not a ZIP file: Truncated central directory");
    }
    try {
      // APPNOTE 4.4.4 bit 11: UTF-8 names; otherwise CP437.
      entry.name = flags & 0x800 ? decodeUtf8(rawName) : cp437(rawName);
    } catch {
      throw new BundleFormatError("cannot read the bundle: a member name is not valid UTF-8");
    }
    zip64Extra(entry, extra);
    entry.headerOffset += concat;
    entries.push(entry);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function zip64Extra(entry, extra) {
  // APPNOTE 4.5.3: the ZIP64 extra holds, in order, whichever of the sizes and the offset
  // are 0xFFFFFFFF in the directory entry.
  const view = new DataView(extra.buffer, extra.byteOffset, extra.byteLength);
  for (let at = 0; at + 4 <= extra.length; ) {
    const kind = u16(view, at);
    const length = u16(view, at + 2);
    if (at + 4 + length > extra.length) throw new BundleFormatError("not a ZIP file: Corrupt extra field");
    if (kind === 0x0001) {
      let field = at + 4;
      const stop = at + 4 + length;
      for (const key of ["size", "compressedSize", "headerOffset"]) {
        if (entry[key] !== 0xffffffff) continue;
        if (field + 8 > stop) throw new BundleFormatError("not a ZIP file: Corrupt zip64 extra field");
        entry[key] = u64(view, field);
        field += 8;
      }
    }
    at += 4 + length;
  }
}

function indexMembers(entries) {
  const members = new Map();
  const spans = [];
  let declared = 0;
  let compressed = 0;
  for (const entry of entries) {
    if (entry.name.endsWith("/")) {
      // A directory entry: checked, never read.
      checkMemberName(entry.name.slice(0, -1));
      continue;
    }
    checkMemberName(entry.name);
    const name = entry.name;
    if (members.has(name)) throw new BundleFormatError(`member ${showName(name)} appears twice`);
    if (entry.mode && (entry.mode & S_IFMT) === S_IFLNK) {
      throw new BundleFormatError(`member ${showName(name)} is a symbolic link`);
    }
    if (entry.flags & 0x1) throw new BundleFormatError(`member ${showName(name)} is encrypted`);
    if (entry.method !== 0) {
      if (entry.size > RATIO_FLOOR_BYTES && entry.size > MAX_COMPRESSION_RATIO * Math.max(entry.compressedSize, 1)) {
        throw new BundleFormatError(
          `member ${showName(name)} claims ${entry.size} bytes from ${entry.compressedSize} compressed: refused as a zip bomb`,
        );
      }
      declared += entry.size;
      compressed += entry.compressedSize;
    }
    members.set(name, entry);
    // A member occupies its local header (30 bytes and the name, at least) and its
    // compressed data; counting the data alone would miss a member nested in there.
    spans.push([entry.headerOffset, entry.headerOffset + 30 + entry.rawName.length + entry.compressedSize, name]);
  }
  // Many members each under the floor add up to one bomb: the ratio holds in total too.
  if (declared > RATIO_FLOOR_BYTES && declared > MAX_COMPRESSION_RATIO * Math.max(compressed, 1)) {
    throw new BundleFormatError(
      `compressed members claim ${declared} bytes from ${compressed} compressed in total: refused as a zip bomb`,
    );
  }
  // Overlapping members (one compressed stream referenced many times) are the classic
  // non-recursive zip bomb; a well-formed archive never overlaps.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) {
      throw new BundleFormatError(`members ${showName(spans[i - 1][2])} and ${showName(spans[i][2])} overlap`);
    }
  }
  return members;
}
