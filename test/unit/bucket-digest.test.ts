import { createHash } from 'node:crypto';
import { BucketDigests, bucketOf, DIGEST_BUCKETS } from '../../src/core/bucket-digest';

const hash = (s: string) => createHash('sha256').update(s).digest('hex');
const digestOf = (hashes: string[]) => {
  const d = new BucketDigests();
  for (const h of hashes) d.add(h);
  return d;
};

describe('bucket digests of identity hashes', () => {
  const members = Array.from({ length: 2000 }, (_, i) => hash(`row-${i}`));

  it('agree on every bucket for the same set added in any order', () => {
    const shuffled = [...members].reverse();
    expect(digestOf(members).differingBuckets(digestOf(shuffled))).toEqual([]);
  });

  it('differ exactly in the buckets of identities one side lacks or has extra', () => {
    const missing = members[17]!;
    const extra = hash('row-extra');
    const other = digestOf([...members.filter((h) => h !== missing), extra]);
    expect(digestOf(members).differingBuckets(other)).toEqual([...new Set([bucketOf(missing), bucketOf(extra)])].sort((a, b) => a - b));
  });

  it('see a member counted twice, which XOR alone would cancel out', () => {
    const twice = digestOf([...members, members[3]!, members[3]!]);
    expect(digestOf(members).differingBuckets(twice)).toEqual([bucketOf(members[3]!)]);
  });

  it('bucket by the first byte of the hash, and spread any other spelling by its SHA-256', () => {
    expect(bucketOf('ff' + '0'.repeat(62))).toBe(255);
    expect(bucketOf('00' + 'a'.repeat(62))).toBe(0);
    const odd = bucketOf('not-a-hex-hash');
    expect(odd).toBeGreaterThanOrEqual(0);
    expect(odd).toBeLessThan(DIGEST_BUCKETS);
    const counts = new Array(DIGEST_BUCKETS).fill(0);
    for (const h of members) counts[bucketOf(h)]++;
    expect(Math.max(...counts)).toBeLessThan(40); // 2000 over 256 buckets: about 8 each
    expect(digestOf(members).count(bucketOf(members[0]!))).toBe(counts[bucketOf(members[0]!)]);
  });
});
