import { mapRow, type ResolvedMapping } from '../../src/core/mapping';
import type { WriteBatchMessage } from '../../src/core/messages';
import { emptyRunCounts } from '../../src/core/ports/state';
import { handleWriteBatch } from '../../src/sync/write-batch';
import { assertInvariant } from '../support/invariant';
import { startStack, type Stack } from '../support/stack';

/**
 * Two write batches for one row at once (issue 10, finding 4): a superseded planner's batch, a
 * run whose lease expired. Whatever order their Graph writes and ledger writes land in, an
 * older batch never overwrites a newer one, and SharePoint never ends up holding older content
 * than the ledger claims without the next run rewriting it.
 */
describe('overlapping batches for one row (local host stack)', () => {
  let stack: Stack;
  let n = 0;

  beforeAll(async () => {
    stack = await startStack();
  }, 60_000);
  afterAll(() => stack?.stop());

  async function scenario() {
    const k = ++n;
    const id = `race${k}`;
    const table = `"${stack.schema}".race_${k}`;
    await stack.pg.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${table} (id, name, qty) VALUES (1, 'Row 1', 1)`);
    await stack.addDefinition({
      id,
      table: { schema: stack.schema, name: `race_${k}` },
      title: 'name',
      fields: [{ source: 'qty' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 2 },
      sharding: { strategy: 'none', list: `Race ${k}` },
    });
    expect((await stack.run(id)).status).toBe('succeeded');
    const stored = (await stack.state.getDefinition(id))!;
    const listId = stored.lists![`Race ${k}`]!;
    const mapping = stored.mapping as ResolvedMapping;
    const item = () => stack.items().find((i) => i.list === `Race ${k}`)!;

    /** A running run started at `startedAt`, with one write batch updating row 1 to `qty`. */
    async function batchOf(runId: string, startedAt: string, qty: number): Promise<WriteBatchMessage> {
      await stack.state.createRun({ runId, definitionId: id, mode: 'incremental', trigger: 'manual', status: 'running', startedAt, counts: emptyRunCounts(), batchesExpected: 1, batchesSettled: 0 });
      const row = mapRow({ id: 1, name: 'Row 1', qty }, mapping);
      const entry = (await stack.state.getLedger(id, [row.identity])).get(row.identity)!;
      return { definitionId: id, runId, batchId: `${runId}:w0`, siteId: stack.siteId, listId, ops: [{ identityHash: row.identity, kind: 'update', itemId: entry.itemId!, fields: row.fields, contentHash: row.contentHash, key: row.key }] };
    }
    return { id, table, item, batchOf };
  }

  // Both runs start after the scenario's first run, the older one first.
  const earlier = () => new Date(Date.now() + 1_000).toISOString();
  const later = () => new Date(Date.now() + 2_000).toISOString();

  it('an older batch arriving after a newer one writes nothing', async () => {
    const s = await scenario();
    await stack.pg.query(`UPDATE ${s.table} SET qty = 3, updated_at = clock_timestamp()`);
    const older = await s.batchOf(`${s.id}-old`, earlier(), 2);
    const newer = await s.batchOf(`${s.id}-new`, later(), 3);
    await handleWriteBatch(stack.deps, newer);
    await handleWriteBatch(stack.deps, older);
    expect(s.item().fields.qty).toBe(3);
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);

  it('when the older batch reaches SharePoint last but the ledger first, the next run rewrites the item', async () => {
    const s = await scenario();
    await stack.pg.query(`UPDATE ${s.table} SET qty = 3, updated_at = clock_timestamp()`);
    const older = await s.batchOf(`${s.id}-old`, earlier(), 2);
    const newer = await s.batchOf(`${s.id}-new`, later(), 3);
    // The newer batch writes SharePoint, then stalls before its ledger write ...
    let resume!: () => void;
    const stalled = new Promise<void>((resolve) => (resume = resolve));
    let reachedGraph!: () => void;
    const wroteGraph = new Promise<void>((resolve) => (reachedGraph = resolve));
    const newerDone = handleWriteBatch({ ...stack.deps, faultPoint: async (p) => (p === 'write:after-graph' ? (reachedGraph(), stalled) : undefined) }, newer);
    await wroteGraph;
    // ... while the older batch writes SharePoint and the ledger in full.
    await handleWriteBatch(stack.deps, older);
    resume();
    await newerDone;
    // SharePoint holds the older content now; the ledger must not claim the newer one.
    expect(s.item().fields.qty).toBe(2);
    // The next run starts after both (their start times were set a little ahead).
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await stack.run(s.id);
    expect(s.item().fields.qty).toBe(3);
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);
});
