import { SYNC_KEY_COLUMN, type WriteOp } from '../../../src/core/ports/list-target';
import { key, ordersSpec, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => (h = await startHarness()));
afterAll(() => h.close());

let listSeq = 0;
/** A fresh list per test, and clean emulator counters and faults. */
async function freshList(): Promise<string> {
  const { list } = await h.target.ensureList(h.siteId, ordersSpec(`Writes ${++listSeq}`));
  h.emulator.state.clearFaults();
  h.emulator.state.resetMetrics();
  return list!.id;
}

const creates = (from: number, n: number): WriteOp[] =>
  Array.from({ length: n }, (_, i) => ({
    opId: `op-${from + i}`,
    kind: 'create' as const,
    fields: { [SYNC_KEY_COLUMN]: key(from + i), Title: `Order ${from + i}`, Amount: from + i },
  }));

describe('writing items through $batch', () => {
  it('25 writes become two batches of at most 20', async () => {
    const listId = await freshList();
    const results = await h.target.writeItems(h.siteId, listId, creates(0, 25));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.map((r) => r.opId)).toEqual(creates(0, 25).map((o) => o.opId));
    const m = h.emulator.state.metrics();
    expect(m.batches).toBe(2);
    expect(m.requests).toBe(25);
    expect(m.httpRequests).toBe(2);
    expect(h.emulator.state.items(listId)).toHaveLength(25);
  });

  it('an inner 429 is retried alone, after its Retry-After, and the others are not re-sent', async () => {
    const listId = await freshList();
    h.emulator.state.injectFault({ kind: 'status', status: 429, count: 1, retryAfter: 1, scope: { op: 'create', list: listId } });
    const results = await h.target.writeItems(h.siteId, listId, creates(100, 20));
    expect(results.every((r) => r.ok)).toBe(true);
    const m = h.emulator.state.metrics();
    expect(m.batches).toBe(2); // the second envelope carried only the throttled request
    expect(m.requests).toBe(21);
    expect(m.byStatus['429']).toBe(1);
    expect(m.byStatus['201']).toBe(20);
    expect(h.emulator.state.items(listId)).toHaveLength(20);
    expect(h.limiter.snapshot().throttleSignals).toBeGreaterThanOrEqual(1);
  });

  it('a 503 storm on the envelope is ridden out with backoff', async () => {
    const listId = await freshList();
    h.emulator.state.injectFault({ kind: 'status', status: 503, count: 3, retryAfter: 0, scope: { op: 'batch' } });
    const results = await h.target.writeItems(h.siteId, listId, creates(200, 5));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(h.emulator.state.metrics().batches).toBe(4);
    expect(h.emulator.state.items(listId)).toHaveLength(5);
  });

  it.each(['status', 'reset'] as const)(
    'a create applied but whose answer was lost (%s) is retried and adopts the item it made: exactly one item per row',
    async (mode) => {
      const listId = await freshList();
      h.emulator.state.injectFault({ kind: 'appliedButLost', count: 1, mode, scope: { op: 'create', list: listId } });
      const ops = creates(300, 3);
      const results = await h.target.writeItems(h.siteId, listId, ops);

      const items = h.emulator.state.items(listId);
      expect(items).toHaveLength(3);
      for (const [i, op] of ops.entries()) {
        const item = items.find((it) => it.fields[SYNC_KEY_COLUMN] === op.fields![SYNC_KEY_COLUMN])!;
        expect(results[i]).toMatchObject({ opId: op.opId, ok: true, itemId: item.id, adopted: true });
        expect(item.fields.Title).toBe(op.fields!.Title);
      }
      // The repeat was refused by SharePoint's unique SyncKey (409), then looked up by SyncKey.
      expect(h.emulator.state.metrics().byStatus['409']).toBe(3);
    },
  );

  it('a retried create adopts an item left by an earlier run and writes the row’s latest values onto it', async () => {
    const listId = await freshList();
    const [old] = h.emulator.state.seedItems(listId, [{ [SYNC_KEY_COLUMN]: key(400), Title: 'stale', Amount: 1 }]);
    const [result] = await h.target.writeItems(h.siteId, listId, [
      { opId: 'again', kind: 'create', fields: { [SYNC_KEY_COLUMN]: key(400), Title: 'fresh', Amount: 2 } },
    ]);
    expect(result).toMatchObject({ ok: true, itemId: old, adopted: true });
    expect(h.emulator.state.items(listId)).toEqual([expect.objectContaining({ id: old, fields: expect.objectContaining({ Title: 'fresh', Amount: 2 }) })]);
  });

  it('a bad field value is a per-item, skippable error that names the field; the rest of the batch is written', async () => {
    const listId = await freshList();
    const ops: WriteOp[] = [
      ...creates(500, 2),
      { opId: 'bad-amount', kind: 'create', fields: { [SYNC_KEY_COLUMN]: key(502), Amount: 'lots' } },
      { opId: 'bad-choice', kind: 'create', fields: { [SYNC_KEY_COLUMN]: key(503), Status: 'maybe' } },
      { opId: 'too-long', kind: 'create', fields: { [SYNC_KEY_COLUMN]: key(504), Category: 'x'.repeat(51) } },
    ];
    const results = await h.target.writeItems(h.siteId, listId, ops);
    expect(results.slice(0, 2).every((r) => r.ok)).toBe(true);
    expect(results.slice(2)).toEqual([
      expect.objectContaining({ opId: 'bad-amount', ok: false, status: 400, code: 'invalid_field', errorClass: 'skippable', field: 'Amount' }),
      expect.objectContaining({ opId: 'bad-choice', ok: false, code: 'invalid_field', field: 'Status' }),
      expect.objectContaining({ opId: 'too-long', ok: false, code: 'invalid_field', field: 'Category' }),
    ]);
    expect(h.emulator.state.items(listId)).toHaveLength(2);
  });

  it('updates change fields, and deleting an item that is already gone reports 404 so the caller can count it done', async () => {
    const listId = await freshList();
    const [a, b] = await h.target.writeItems(h.siteId, listId, creates(600, 2));
    const results = await h.target.writeItems(h.siteId, listId, [
      { opId: 'upd', kind: 'update', itemId: a!.ok ? a!.itemId : '', fields: { Amount: 42.5 } },
      { opId: 'del', kind: 'delete', itemId: b!.ok ? b!.itemId : '' },
      { opId: 'del-missing', kind: 'delete', itemId: '999999' },
      { opId: 'upd-missing', kind: 'update', itemId: '999998', fields: { Amount: 1 } },
    ]);
    expect(results[0]).toMatchObject({ ok: true, itemId: a!.ok && a!.itemId });
    expect(results[0]!.ok && results[0]!.eTag).toBeTruthy();
    expect(results[1]).toMatchObject({ ok: true });
    expect(results[2]).toMatchObject({ ok: false, status: 404, code: 'item_not_found', errorClass: 'skippable' });
    expect(results[3]).toMatchObject({ ok: false, status: 404, code: 'item_not_found' });
    expect(h.emulator.state.items(listId)).toEqual([expect.objectContaining({ fields: expect.objectContaining({ Amount: 42.5 }) })]);
  });

  it('two ops on one item in one call run in order, never side by side in one envelope', async () => {
    const listId = await freshList();
    const [a] = await h.target.writeItems(h.siteId, listId, creates(700, 1));
    const id = a!.ok ? a!.itemId : '';
    h.emulator.state.resetMetrics();
    const results = await h.target.writeItems(h.siteId, listId, [
      { opId: 'u1', kind: 'update', itemId: id, fields: { Amount: 1 } },
      { opId: 'u2', kind: 'update', itemId: id, fields: { Amount: 2 } },
      { opId: 'd', kind: 'delete', itemId: id },
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(h.emulator.state.metrics().batches).toBe(3);
  });

  it('a unique value clash on another column is a skippable per-item conflict, not an adoption', async () => {
    const { list } = await h.target.ensureList(h.siteId, { displayName: 'Unique codes', columns: [{ name: 'Code', type: 'text', indexed: true, enforceUniqueValues: true }] });
    const results = await h.target.writeItems(h.siteId, list!.id, [
      { opId: 'first', kind: 'create', fields: { [SYNC_KEY_COLUMN]: key(800), Code: 'A' } },
    ]);
    const [clash] = await h.target.writeItems(h.siteId, list!.id, [{ opId: 'second', kind: 'create', fields: { [SYNC_KEY_COLUMN]: key(801), Code: 'a' } }]);
    expect(results[0]!.ok).toBe(true);
    expect(clash).toMatchObject({ ok: false, status: 409, code: 'unique_conflict', errorClass: 'skippable', field: 'Code' });
    expect(h.emulator.state.items(list!.id)).toHaveLength(1);
  });

  it('a create without SyncKey is refused before it is sent: it could not be retried safely', async () => {
    const listId = await freshList();
    const [result] = await h.target.writeItems(h.siteId, listId, [{ opId: 'x', kind: 'create', fields: { Title: 'no key' } }]);
    expect(result).toMatchObject({ ok: false, code: 'missing_sync_key', errorClass: 'config' });
    expect(h.emulator.state.metrics().requests).toBe(0);
  });
});
