// RFC 9162 2.1: the Merkle tree hash over leaf hashes, and inclusion proof verification.

import { equalBytes } from "./bytes.js";
import { nodeHash, sha256Sync } from "./hashes.js";

/** The peaks of the perfect subtrees over the leaves so far: O(log n) memory. */
export class CompactRange {
  constructor() {
    this.size = 0;
    this.peaks = [];
  }

  push(leaf) {
    let current = leaf;
    // Each trailing 1 bit of the old size is a peak of equal height to merge with.
    for (let size = this.size; size % 2 === 1; size = Math.floor(size / 2)) {
      current = nodeHash(this.peaks.pop(), current);
    }
    this.peaks.push(current);
    this.size += 1;
  }

  /** RFC 9162 2.1.1: MTH of all leaves; the hash of the empty string for none. */
  root() {
    if (!this.peaks.length) return sha256Sync(new Uint8Array(0));
    let root = this.peaks[this.peaks.length - 1];
    for (let i = this.peaks.length - 2; i >= 0; i--) root = nodeHash(this.peaks[i], root);
    return root;
  }
}

/** RFC 9162 2.1.3.2, step by step; index and size are BigInts. Returns a reason or null. */
export function inclusionFailure(leaf, index, size, path, root) {
  if (index >= size) return `index ${index} is not below tree size ${size}`;
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) return "the proof is longer than the tree is deep";
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) return "the proof is shorter than the tree is deep";
  if (!equalBytes(r, root)) return "the computed root differs from the checkpoint's root";
  return null;
}
