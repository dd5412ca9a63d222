import { createHash } from 'node:crypto';

/** What the planner needs of a set of identity hashes (a `Set<string>` qualifies). */
export interface IdentityMembership {
  has(identityHash: string): boolean;
  add(identityHash: string): unknown;
}

/** 32-bit words kept per identity: 96 bits of its SHA-256. */
const WORDS = 3;
const MAX_LOAD = 0.7;

/**
 * A set of identity hashes in 12 bytes each (issue 13: a million rows in bounded memory). An
 * identity hash is a SHA-256 (64 hex digits); the set keeps 96 bits of it (all 256 folded by
 * XOR, so identities that differ in any digit differ there) in an open-addressing table of 32-bit words, where a `Set<string>` of the hex strings costs ~100 bytes an
 * entry in V8. Two different identities of a run agree on 96 bits of SHA-256 with probability
 * ~n²/2⁹⁷ (about 10⁻¹⁷ for a million rows), far below any hardware fault rate, so the set is
 * exact in practice. Any other spelling is hashed with SHA-256 first.
 */
export class IdentitySet implements IdentityMembership {
  private slots: Uint32Array;
  private mask: number;
  private count = 0;
  /** The all-zero fingerprint marks an empty slot, so it is held apart. */
  private hasZero = false;

  constructor(initialCapacity = 1024) {
    let size = 16;
    while (size * MAX_LOAD < initialCapacity) size *= 2;
    this.slots = new Uint32Array(size * WORDS);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count + (this.hasZero ? 1 : 0);
  }

  /** Bytes the table holds (for memory figures and tests). */
  get bytes(): number {
    return this.slots.byteLength;
  }

  has(identityHash: string): boolean {
    const w = fingerprint(identityHash);
    if (isZero(w)) return this.hasZero;
    return this.find(this.slots, this.mask, w) < 0;
  }

  add(identityHash: string): this {
    const w = fingerprint(identityHash);
    if (isZero(w)) {
      this.hasZero = true;
      return this;
    }
    const at = this.find(this.slots, this.mask, w);
    if (at < 0) return this;
    this.slots.set(w, at * WORDS);
    if (++this.count > (this.mask + 1) * MAX_LOAD) this.grow();
    return this;
  }

  /** The slot of `w`: negative when present, else the empty slot where it goes. */
  private find(slots: Uint32Array, mask: number, w: Uint32Array): number {
    let i = w[0]! & mask;
    for (;;) {
      const o = i * WORDS;
      const a = slots[o]!;
      const b = slots[o + 1]!;
      const c = slots[o + 2]!;
      if (a === 0 && b === 0 && c === 0) return i;
      if (a === w[0] && b === w[1] && c === w[2]) return -1;
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    const size = (this.mask + 1) * 2;
    const slots = new Uint32Array(size * WORDS);
    const mask = size - 1;
    for (let o = 0; o < old.length; o += WORDS) {
      const w = old.subarray(o, o + WORDS);
      if (isZero(w)) continue;
      slots.set(w, this.find(slots, mask, w) * WORDS);
    }
    this.slots = slots;
    this.mask = mask;
  }
}

const scratch = new Uint32Array(WORDS);
/** The last identity fingerprinted: `has(h)` then `add(h)` (the planner's once-per-run check) folds it once. */
let lastHash: string | undefined;

/**
 * The 256 bits folded into 96 by XOR (word i of 8 into word i mod 3), so every digit counts, not
 * only a prefix. Hex digits are read in one pass over the string (no regular expression, no
 * substrings): this runs for every row a run plans.
 */
function fingerprint(identityHash: string): Uint32Array {
  if (identityHash === lastHash) return scratch;
  if (!foldHex(identityHash)) foldHex(createHash('sha256').update(identityHash, 'utf8').digest('hex'));
  lastHash = identityHash;
  return scratch;
}

/** Folds 64 lowercase hex digits into `scratch`; false (scratch undefined) for any other spelling. */
function foldHex(hex: string): boolean {
  if (hex.length !== 64) return false;
  scratch.fill(0);
  for (let word = 0; word < 8; word++) {
    let w = 0;
    for (let i = word * 8, end = i + 8; i < end; i++) {
      const c = hex.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
      if (d < 0) {
        lastHash = undefined;
        return false;
      }
      w = (w << 4) | d;
    }
    scratch[word % WORDS] = (scratch[word % WORDS]! ^ w) >>> 0;
  }
  return true;
}

function isZero(w: Uint32Array): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0;
}
