import { isSyncError } from '../../../src/core/errors';
import { SYNC_KEY_COLUMN, type ListItem } from '../../../src/core/ports/list-target';
import { key, ordersSpec, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => (h = await startHarness()));
afterAll(() => h.close());

async function listWith(name: string, n: number, row: (i: number) => Record<string, unknown> = () => ({})): Promise<string> {
  const { list } = await h.target.ensureList(h.siteId, ordersSpec(name));
  // Seeding goes straight into the emulator's store: it is set-up, not what is under test.
  for (let start = 0; start < n; start += 1000) {
    const rows = Array.from({ length: Math.min(1000, n - start) }, (_, j) => ({ [SYNC_KEY_COLUMN]: key(start + j), Title: `Row ${start + j}`, ...row(start + j) }));
    h.emulator.state.seedItems(list!.id, rows);
  }
  h.emulator.state.resetMetrics();
  return list!.id;
}

describe('reading items', () => {
  it('finds items by SyncKey with one filtered read per key, twenty to a $batch', async () => {
    const listId = await listWith('Lookup', 50);
    const wanted = [key(3), key(17), key(49), key('f'.repeat(64)), ...Array.from({ length: 20 }, (_, i) => key(20 + i))];
    const found = await h.target.findBySyncKey(h.siteId, listId, wanted, { select: ['Title'] });
    expect(found.size).toBe(23);
    expect(found.has(key('f'.repeat(64)))).toBe(false);
    expect(found.get(key(17))?.fields).toMatchObject({ [SYNC_KEY_COLUMN]: key(17), Title: 'Row 17' });
    const m = h.emulator.state.metrics();
    expect(m.batches).toBe(2);
    expect(m.requests).toBe(24);
  });

  it('SyncKey lookups stay legal past the list view threshold because the column is indexed', async () => {
    const listId = await listWith('Big lookup', 6_000);
    const found = await h.target.findBySyncKey(h.siteId, listId, [key(5_999)]);
    expect(found.get(key(5_999))?.fields.Title).toBe('Row 5999');
  });

  it('paging returns every item exactly once', async () => {
    const listId = await listWith('Paging', 2_345);
    const seen: ListItem[] = [];
    let pages = 0;
    for await (const page of h.target.pageItems(h.siteId, listId, { select: ['Title', SYNC_KEY_COLUMN], pageSize: 500 })) {
      pages++;
      seen.push(...page);
    }
    expect(pages).toBe(5);
    expect(seen).toHaveLength(2_345);
    expect(new Set(seen.map((i) => i.id)).size).toBe(2_345);
    expect(new Set(seen.map((i) => i.fields[SYNC_KEY_COLUMN])).size).toBe(2_345);
    expect(seen[0]!.fields).toMatchObject({ Title: 'Row 0', [SYNC_KEY_COLUMN]: key(0) });
    expect(seen[0]!.fields).not.toHaveProperty('Amount');
  });

  it('a filter on a non-indexed column works on a small list', async () => {
    const listId = await listWith('Small filter', 30, (i) => ({ Category: i % 3 === 0 ? 'gold' : 'plain' }));
    let n = 0;
    for await (const page of h.target.pageItems(h.siteId, listId, { select: ['Category'], where: { field: 'Category', equals: 'gold' } })) {
      n += page.length;
      expect(page.every((i) => i.fields.Category === 'gold')).toBe(true);
    }
    expect(n).toBe(10);
  });

  it('a filter on a non-indexed column of a 6,000-item list fails as Graph does, as a config error naming the fix', async () => {
    const listId = await listWith('Big filter', 6_000, (i) => ({ Category: i % 2 ? 'a' : 'b' }));
    const read = async () => {
      for await (const page of h.target.pageItems(h.siteId, listId, { select: ['Category'], where: { field: 'Category', equals: 'a' } })) void page;
    };
    const error = await read().catch((e: unknown) => e);
    expect(isSyncError(error, 'list_view_threshold')).toBe(true);
    expect((error as { errorClass: string }).errorClass).toBe('config');
    expect((error as Error).message).toMatch(/Index the filtered column/);
    // Refused at once: a threshold refusal is never retried.
    expect(h.emulator.state.metrics().requests).toBe(1);
  });
});

describe('delta', () => {
  it('returns every item first, then only what changed, with deletions', async () => {
    const listId = await listWith('Delta', 5);
    const first = await h.target.delta(h.siteId, listId, undefined, { select: ['Title', SYNC_KEY_COLUMN] });
    if (first.reset) throw new Error('a first enumeration cannot have expired');
    expect(first.items).toHaveLength(5);

    const [created] = await h.target.writeItems(h.siteId, listId, [{ opId: 'new', kind: 'create', fields: { [SYNC_KEY_COLUMN]: key(99), Title: 'new' } }]);
    await h.target.writeItems(h.siteId, listId, [
      { opId: 'upd', kind: 'update', itemId: first.items[0]!.id, fields: { Title: 'changed' } },
      { opId: 'del', kind: 'delete', itemId: first.items[1]!.id },
    ]);
    const next = await h.target.delta(h.siteId, listId, first.nextToken, { select: ['Title'] });
    if (next.reset) throw new Error('the token was fresh');
    expect(next.items.map((i) => i.id).sort()).toEqual([first.items[0]!.id, created!.ok ? created!.itemId : ''].sort());
    expect(next.items.find((i) => i.id === first.items[0]!.id)?.fields.Title).toBe('changed');
    expect(next.deletedIds).toEqual([first.items[1]!.id]);

    const quiet = await h.target.delta(h.siteId, listId, next.nextToken);
    expect(quiet).toMatchObject({ items: [], deletedIds: [], reset: false });
  });

  it('an expired token (410) reads no item and says so; the latest token then sees only later changes, at 1 RU', async () => {
    const listId = await listWith('Delta expired', 3);
    const first = await h.target.delta(h.siteId, listId);
    if (first.reset) throw new Error('a first enumeration cannot have expired');
    h.emulator.state.expireDeltaTokens(listId);
    h.emulator.state.resetMetrics();
    expect(await h.target.delta(h.siteId, listId, first.nextToken)).toEqual({ reset: true });
    // The refused request only: no enumeration of the list behind the caller's back.
    expect(h.emulator.state.metrics()).toMatchObject({ httpRequests: 1, ru: { total: 1 } });

    h.emulator.state.resetMetrics();
    const latest = await h.target.latestDeltaToken(h.siteId, listId);
    expect(h.emulator.state.metrics()).toMatchObject({ httpRequests: 1, ru: { total: 1 } });
    const quiet = await h.target.delta(h.siteId, listId, latest);
    expect(quiet).toMatchObject({ reset: false, items: [], deletedIds: [] });
    const [created] = await h.target.writeItems(h.siteId, listId, [{ opId: 'later', kind: 'create', fields: { [SYNC_KEY_COLUMN]: key(77), Title: 'later' } }]);
    const later = await h.target.delta(h.siteId, listId, latest);
    if (later.reset) throw new Error('the latest token was fresh');
    expect(later.items.map((i) => i.id)).toEqual([created!.ok ? created!.itemId : 'not created']);
  });
});
