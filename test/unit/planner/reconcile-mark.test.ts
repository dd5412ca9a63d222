import type { ReconcileMark } from '../../../src/core/ports/state';
import { MARK_TRUSTED_MS, markHolds, nextMark, storeMark, type RunFacts } from '../../../src/sync/plan/reconcile-mark';

const now = new Date('2026-12-01T12:00:00Z');
const facts = { key: ['tenant', 'id'], mappingVersion: 4 };
const mark: ReconcileMark = { digest: '10:1:2', key: ['tenant', 'id'], mappingVersion: 4, groundedAt: '2026-12-01T11:30:00.000Z' };
const run = (over: Partial<RunFacts>): RunFacts => ({ basis: { kind: 'mark', mark }, startDigest: '10:1:2', creates: 0, orphanDeletes: 0, endDigest: async () => '10:1:2', ...over });

describe('reconcile mark', () => {
  it('holds only for the same digest, key columns in order and mapping version, within its trusted time', () => {
    expect(markHolds(mark, '10:1:2', facts, now)).toBe(true);
    expect(markHolds(null, '10:1:2', facts, now)).toBe(false);
    expect(markHolds(mark, null, facts, now)).toBe(false);
    expect(markHolds(mark, '10:1:3', facts, now)).toBe(false);
    expect(markHolds(mark, '10:1:2', { ...facts, key: ['id', 'tenant'] }, now)).toBe(false);
    expect(markHolds(mark, '10:1:2', { ...facts, key: ['tenant'] }, now)).toBe(false);
    expect(markHolds(mark, '10:1:2', { ...facts, mappingVersion: 5 }, now)).toBe(false);
    expect(markHolds({ ...mark, groundedAt: new Date(now.getTime() - MARK_TRUSTED_MS).toISOString() }, '10:1:2', facts, now)).toBe(false);
    expect(markHolds({ ...mark, groundedAt: 'not a time' }, '10:1:2', facts, now)).toBe(false);
    // a mark from the future (a clock far ahead) is not trusted either
    expect(markHolds({ ...mark, groundedAt: '2026-12-01T13:00:00.000Z' }, '10:1:2', facts, now)).toBe(false);
  });

  it('a run keeps the mark it started from when it created nothing, without a second digest', async () => {
    const endDigest = jest.fn(async () => 'changed');
    expect(await nextMark(run({ endDigest }), facts, now)).toEqual(mark);
    expect(endDigest).not.toHaveBeenCalled();
  });

  it('a run that created rows keeps a mark only if the key set at its end is the one at its start', async () => {
    expect(await nextMark(run({ creates: 3 }), facts, now)).toEqual(mark);
    expect(await nextMark(run({ creates: 3, endDigest: async () => '11:5:6' }), facts, now)).toBeNull();
  });

  it('a full compare grounds a new mark only when it found no orphan and the key set stood still', async () => {
    const grounded = await nextMark(run({ basis: { kind: 'compared', orphans: 0 } }), facts, now);
    expect(grounded).toEqual({ ...mark, groundedAt: now.toISOString() });
    expect(await nextMark(run({ basis: { kind: 'compared', orphans: 2 }, orphanDeletes: 2 }), facts, now)).toBeNull();
    expect(await nextMark(run({ basis: { kind: 'compared', orphans: 0 }, endDigest: async () => '9:0:0' }), facts, now)).toBeNull();
  });

  it('an empty ledger grounds a mark; no basis or orphan deletes clear it', async () => {
    expect(await nextMark(run({ basis: { kind: 'emptyLedger' }, creates: 10 }), facts, now)).toEqual({ ...mark, groundedAt: now.toISOString() });
    expect(await nextMark(run({ basis: null }), facts, now)).toBeNull();
    expect(await nextMark(run({ orphanDeletes: 1 }), facts, now)).toBeNull();
    expect(await nextMark(run({ startDigest: null }), facts, now)).toBeNull();
  });

  it('writes only when the mark changes', async () => {
    const put = jest.fn(async () => undefined);
    await storeMark({ putReconcileMark: put }, 'd', null, null);
    await storeMark({ putReconcileMark: put }, 'd', mark, { ...mark });
    expect(put).not.toHaveBeenCalled();
    await storeMark({ putReconcileMark: put }, 'd', mark, null);
    await storeMark({ putReconcileMark: put }, 'd', null, mark);
    expect(put.mock.calls).toEqual([['d', null], ['d', mark]]);
  });
});
