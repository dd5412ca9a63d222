import { createHash } from 'node:crypto';

/**
 * Set comparison in constant memory (delete reconciliation, DESIGN §4): identities are spread
 * over 256 buckets by their first byte, and each bucket keeps an order-independent digest (the
 * XOR of its members' 32-byte hashes) plus a member count. Two sides streamed into digests agree
 * on a bucket exactly when (with overwhelming likelihood) they hold the same identities there,
 * so only the buckets that differ need their identities loaded. The count also catches what XOR
 * alone cannot: a member seen twice cancels out of the XOR but not out of the count.
 */

export const DIGEST_BUCKETS = 256;
const HASH_BYTES = 32;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** The 32 bytes an identity contributes: the hash itself, or (for any other spelling) its SHA-256. */
function identityBytes(identityHash: string): Buffer {
  return HEX_SHA256.test(identityHash) ? Buffer.from(identityHash, 'hex') : createHash('sha256').update(identityHash, 'utf8').digest();
}

/** The bucket an identity falls in (0‥255). */
export function bucketOf(identityHash: string): number {
  return identityBytes(identityHash)[0]!;
}

export class BucketDigests {
  private readonly xor = Buffer.alloc(DIGEST_BUCKETS * HASH_BYTES);
  private readonly counts = new Uint32Array(DIGEST_BUCKETS);

  add(identityHash: string): void {
    const bytes = identityBytes(identityHash);
    const offset = bytes[0]! * HASH_BYTES;
    for (let i = 0; i < HASH_BYTES; i++) this.xor[offset + i]! ^= bytes[i]!;
    this.counts[bytes[0]!]!++;
  }

  /** Members added to one bucket. */
  count(bucket: number): number {
    return this.counts[bucket]!;
  }

  /** Buckets whose members differ from `other`'s, ascending. */
  differingBuckets(other: BucketDigests): number[] {
    const differing: number[] = [];
    for (let b = 0; b < DIGEST_BUCKETS; b++) {
      const offset = b * HASH_BYTES;
      if (this.counts[b] !== other.counts[b] || this.xor.compare(other.xor, offset, offset + HASH_BYTES, offset, offset + HASH_BYTES) !== 0) differing.push(b);
    }
    return differing;
  }
}
