import { SYNC_KEY_COLUMN } from '../../src/core/ports/list-target';
import type { LedgerEntry } from '../../src/core/ports/state';
import { assertInvariant } from '../support/invariant';
import { startStack, type Stack } from '../support/stack';

/**
 * The three paths that used to leave a duplicate item (issue 10, finding 5). Each test puts the
 * ledger and SharePoint in the state a crash leaves at a step boundary, changes the row as a
 * user would, runs, and counts the items that carry the row's SyncKey across every list.
 */
describe('no duplicate item survives a half-done create or move (local host stack)', () => {
  let stack: Stack;
  let n = 0;

  beforeAll(async () => {
    stack = await startStack();
  }, 60_000);
  afterAll(() => stack?.stop());

  const LISTS = { EU: 'Europe', APAC: 'Asia', US: 'Rest' } as const;

  async function scenario(deletes: 'softDelete' | 'reconcile' | 'none' = 'none') {
    const k = ++n;
    const id = `dup${k}`;
    const table = `"${stack.schema}".dup_${k}`;
    await stack.pg.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL, region text NOT NULL, is_deleted boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${table} (id, name, region) VALUES (1, 'Row 1', 'US'), (2, 'Row 2', 'EU'), (3, 'Row 3', 'APAC')`);
    const listName = (region: keyof typeof LISTS) => `D${k} ${LISTS[region]}`;
    await stack.addDefinition({
      id,
      table: { schema: stack.schema, name: `dup_${k}` },
      title: 'name',
      fields: [{ source: 'region' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 2 },
      sharding: {
        strategy: 'rules',
        rules: [
          { when: { column: 'region', op: 'eq', value: 'EU' }, list: listName('EU') },
          { when: { column: 'region', op: 'eq', value: 'APAC' }, list: listName('APAC') },
        ],
        default: listName('US'),
      },
      deletes: deletes === 'softDelete' ? { mode: 'softDelete', column: 'is_deleted', value: true } : deletes === 'reconcile' ? { mode: 'reconcile', everyRuns: 1 } : { mode: 'none' },
    });
    expect((await stack.run(id)).status).toBe('succeeded');
    const lists = (await stack.state.getDefinition(id))!.lists!;
    const listId = (region: keyof typeof LISTS) => lists[listName(region)]!;
    const syncKey = String(stack.items().find((i) => i.list === listName('US') && i.fields.Title === 'Row 1')!.fields[SYNC_KEY_COLUMN]);
    const entry = async () => (await stack.state.getLedger(id, [syncKey])).get(syncKey)!;
    // Only this definition's lists: other scenarios' rows share the key value and so the SyncKey.
    const itemsOfRow = () => stack.items().filter((i) => i.list.startsWith(`D${k} `) && i.fields[SYNC_KEY_COLUMN] === syncKey);
    const setRow = (assignment: string) => stack.pg.query(`UPDATE ${table} SET ${assignment}, updated_at = clock_timestamp() WHERE id = 1`);
    return { id, table, listId, listName, syncKey, entry, itemsOfRow, setRow };
  }

  /** Row 1's state after a crash at `move:after-swap` of a move Rest → Europe: a new item in Europe, the ledger `moving` with the old item in `movedFrom`. */
  async function halfDoneMoveToEurope(s: Awaited<ReturnType<typeof scenario>>): Promise<LedgerEntry> {
    const old = await s.entry();
    const target = await stack.deps.target('sp');
    const [made] = await target.writeItems(stack.siteId, s.listId('EU'), [{ opId: s.syncKey, kind: 'create', fields: { Title: 'Row 1', region: 'EU', [SYNC_KEY_COLUMN]: s.syncKey } }]);
    if (!made?.ok) throw new Error(`setup create failed: ${JSON.stringify(made)}`);
    const moving: LedgerEntry = { ...old, listId: s.listId('EU'), itemId: made.itemId, state: 'moving', movedFrom: { listId: old.listId, itemId: old.itemId! } };
    await stack.state.putLedger([moving]);
    expect(s.itemsOfRow()).toHaveLength(2);
    return moving;
  }

  it('5a: a pending create re-planned into the row\'s new shard list removes the item the earlier attempt made in the old list', async () => {
    const s = await scenario();
    // A crash after Graph created the item and before the ledger recorded it: the entry is still pending.
    const synced = await s.entry();
    await stack.state.putLedger([{ ...synced, itemId: null, state: 'pending' }]);
    await s.setRow(`region = 'EU'`);
    await stack.run(s.id);
    expect(s.itemsOfRow().map((i) => i.list)).toEqual([s.listName('EU')]);
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);

  it('5b: a soft delete of a row whose move is half done deletes the old item too', async () => {
    const s = await scenario('softDelete');
    await halfDoneMoveToEurope(s);
    await s.setRow('is_deleted = true');
    await stack.run(s.id);
    expect(s.itemsOfRow()).toEqual([]);
    expect(await stack.state.getLedger(s.id, [s.syncKey])).toEqual(new Map());
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table} WHERE NOT is_deleted`);
  }, 60_000);

  it('5b: reconcile of a deleted row whose move is half done deletes the old item too', async () => {
    const s = await scenario('reconcile');
    await halfDoneMoveToEurope(s);
    await stack.pg.query(`DELETE FROM ${s.table} WHERE id = 1`);
    await stack.run(s.id, 'full');
    expect(s.itemsOfRow()).toEqual([]);
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);

  it('5c: a second shard change while a move is half done leaves neither the original nor the intermediate item', async () => {
    const s = await scenario();
    await halfDoneMoveToEurope(s);
    await s.setRow(`region = 'APAC'`);
    await stack.run(s.id);
    expect(s.itemsOfRow().map((i) => i.list)).toEqual([s.listName('APAC')]);
    expect(await s.entry()).toMatchObject({ listId: s.listId('APAC'), state: 'synced', movedFrom: null });
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);
});
