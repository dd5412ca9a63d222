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

  it('answers the same whatever order calls come in across sets (the last fingerprint is reused only for the same hash)', () => {
    const a = new IdentitySet();
    const b = new IdentitySet();
    const x = sha('x');
    const y = sha('y');
    // A hex-looking spelling that is not lowercase hex (a 'g' late in it) is hashed first.
    const almost = `${sha('z').slice(0, 63)}g`;
    expect(a.has(x)).toBe(false);
    a.add(x);
    expect(b.has(x)).toBe(false);
    b.add(y).add(almost);
    expect([a.has(x), a.has(y), a.has(almost)]).toEqual([true, false, false]);
    expect([b.has(x), b.has(y), b.has(almost), b.has(`${sha('z').slice(0, 63)}h`)]).toEqual([false, true, true, false]);
    expect(a.has(x)).toBe(true);
  });

  it('costs at most 36 bytes an identity, where a Set of hex strings costs about 100', () => {
    const set = new IdentitySet();
    const n = 200_000;
    for (let i = 0; i < n; i++) set.add(sha(`row ${i}`));
    expect(set.size).toBe(n);
    expect(set.bytes / n).toBeLessThanOrEqual(36);
  });
});
