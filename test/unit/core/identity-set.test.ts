import { createHash } from 'node:crypto';
import { IdentitySet } from '../../../src/core/identity-set';

/** The planner's set of identities already planned in a run: exact membership in 12 bytes an identity (issue 13). */

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('the set of identities a run has planned', () => {
  it('answers membership exactly like a Set of the hashes, across growth', () => {
    const set = new IdentitySet(16);
    const oracle = new Set<string>();
    for (let i = 0; i < 50_000; i++) {
      const id = sha(`row ${i}`);
      set.add(id);
      oracle.add(id);
      if (i % 3 === 0) set.add(id); // a row read twice is held once
    }
    expect(set.size).toBe(oracle.size);
    for (const id of oracle) expect(set.has(id)).toBe(true);
    let falsePositives = 0;
    for (let i = 0; i < 50_000; i++) if (set.has(sha(`other ${i}`))) falsePositives++;
    expect(falsePositives).toBe(0);
  });

  it('tells apart hashes that differ only in their last digits', () => {
    const set = new IdentitySet();
    const padded = (n: number) => n.toString(16).padStart(64, '0');
    for (let n = 1; n <= 1000; n += 2) set.add(padded(n));
    expect(set.size).toBe(500);
    for (let n = 1; n <= 1000; n++) expect([n, set.has(padded(n))]).toEqual([n, n % 2 === 1]);
  });

  it('holds identities of any spelling, the all-zero hash included', () => {
    const set = new IdentitySet();
    const zero = '0'.repeat(64);
    expect(set.has(zero)).toBe(false);
    set.add(zero).add('not-a-sha').add('ABCDEF'.repeat(10) + 'ABCD');
    expect(set.has(zero)).toBe(true);
    expect(set.has('not-a-sha')).toBe(true);
    expect(set.has('ABCDEF'.repeat(10) + 'ABCD')).toBe(true);
    expect(set.has('abcdef'.repeat(10) + 'abcd')).toBe(false);
    expect(set.has('not-a-sha ')).toBe(false);
    expect(set.size).toBe(3);
  });

  it('costs at most 36 bytes an identity, where a Set of hex strings costs about 100', () => {
    const set = new IdentitySet();
    const n = 200_000;
    for (let i = 0; i < n; i++) set.add(sha(`row ${i}`));
    expect(set.size).toBe(n);
    expect(set.bytes / n).toBeLessThanOrEqual(36);
  });
});
