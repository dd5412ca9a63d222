import type { SourceDatabase } from '../../src/core/ports/source';
import { requestDriftCheck, requestRepair } from '../../src/sync/drift';
import { assertInvariant } from '../support/invariant';
import { startStack, stateStoreSettings, type Stack } from '../support/stack';

/**
 * Delete reconciliation with the reconcile mark (src/sync/plan/reconcile-mark.ts), end to end on
 * the local host stack (real PostgreSQL source, Azurite, the Graph emulator over HTTP): a run
 * whose source key set is unchanged since the ledger was known to hold no orphan skips the
 * compare of every key; any insert or delete of a key, a `full` run, a drift repair or an old
 * mark brings the compare back, and deleted rows are always deleted.
 */
jest.setTimeout(120_000);
describe.each(['table', 'postgres'] as const)('reconcile mark (local host stack, %s state store)', (stateStore) => {
  let stack: Stack;
  const id = 'marked';
  const table = () => `"${stack.schema}".marked`;
  const selectAll = () => `SELECT * FROM ${table()}`;
  let keyStreams = 0;
  let digests = 0;
  /** Runs once before the second key digest a run reads (its end digest). */
  let beforeEndDigest: (() => Promise<unknown>) | null = null;

  beforeAll(async () => {
    stack = await startStack({ settings: stateStoreSettings(stateStore, 'e2e_state') });
    // Every key stream (the compare) and every key digest the handlers read is counted.
    stack.rewire({
      source: async (connectionId) => {
        const real = await stack.services.source(connectionId);
        return Object.assign(Object.create(real) as SourceDatabase, {
          streamKeys: (...args: Parameters<SourceDatabase['streamKeys']>) => {
            keyStreams++;
            return real.streamKeys(...args);
          },
          keySetDigest: async (...args: Parameters<SourceDatabase['keySetDigest']>) => {
            digests++;
            if (digests === 2 && beforeEndDigest) {
              const hook = beforeEndDigest;
              beforeEndDigest = null;
              await hook();
            }
            return real.keySetDigest(...args);
          },
        });
      },
    });
    await stack.pg.query(`CREATE TABLE ${table()} (id integer PRIMARY KEY, label text NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${table()} SELECT g, 'row ' || g, clock_timestamp() - interval '1 hour' FROM generate_series(1, 60) g`);
    await stack.addDefinition({
      id,
      table: { schema: stack.schema, name: 'marked' },
      title: 'label',
      fields: [{ source: 'id', target: 'RowNumber' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 1 },
      sharding: { strategy: 'hash', buckets: 2, listTemplate: 'Marked {n}' },
      deletes: { mode: 'reconcile', everyRuns: 1 },
    });
  }, 60_000);

  afterAll(() => stack?.stop());

  /** One run, with how many key streams (compares) it read and what it did. */
  const run = async (mode: 'incremental' | 'full' = 'incremental') => {
    keyStreams = 0;
    stack.emulator.state.resetMetrics();
    const record = await stack.run(id, mode);
    expect(record.status).toBe('succeeded');
    const plan = record.plan as { reconciled?: boolean; reconcileSkipped?: boolean };
    return { record, compared: keyStreams > 0, skipped: plan.reconcileSkipped === true, reconciled: plan.reconciled === true, requests: stack.emulator.state.metrics().requests };
  };

  it('a first load leaves a mark; idle runs then skip the compare and cost nothing', async () => {
    const load = await run();
    expect(load.record.counts).toMatchObject({ created: 60, failed: 0 });
    expect(load.compared).toBe(false);
    expect((await stack.state.getReconcileMark(id))?.digest).toMatch(/^60:/);
    for (let i = 0; i < 2; i++) {
      digests = 0;
      const idle = await run();
      expect(idle).toMatchObject({ compared: false, skipped: true, reconciled: true, requests: 0 });
      expect(digests).toBe(1); // the start's digest only: nothing was created
    }
    await assertInvariant(stack, id, selectAll());
  });

  it('a deleted row changes the key set: the next run compares and deletes it, the one after compares again and marks, then runs skip', async () => {
    await stack.pg.query(`DELETE FROM ${table()} WHERE id IN (3, 4)`);
    const deleting = await run();
    expect(deleting).toMatchObject({ compared: true, skipped: false });
    expect(deleting.record.counts).toMatchObject({ deleted: 2, failed: 0 });
    // orphans were planned: the mark waits for a compare that finds none
    expect(await stack.state.getReconcileMark(id)).toBeNull();
    const confirming = await run();
    expect(confirming).toMatchObject({ compared: true, skipped: false });
    expect(confirming.record.counts).toMatchObject({ deleted: 0 });
    expect((await stack.state.getReconcileMark(id))?.digest).toMatch(/^58:/);
    expect(await run()).toMatchObject({ compared: false, skipped: true });
    await assertInvariant(stack, id, selectAll());
  });

  it('one key deleted and another inserted (the same count) is found by the compare', async () => {
    await stack.pg.query(`DELETE FROM ${table()} WHERE id = 10`);
    await stack.pg.query(`INSERT INTO ${table()} VALUES (1000, 'row 1000', clock_timestamp())`);
    const swapped = await run();
    expect(swapped).toMatchObject({ compared: true });
    expect(swapped.record.counts).toMatchObject({ created: 1, deleted: 1, failed: 0 });
    await assertInvariant(stack, id, selectAll());
  });

  it('a run that creates rows marks the key set it started from when that still stands at its end', async () => {
    await run(); // the compare after the last deletes
    expect(await stack.state.getReconcileMark(id)).not.toBeNull();
    await stack.pg.query(`INSERT INTO ${table()} SELECT g, 'row ' || g, clock_timestamp() FROM generate_series(2000, 2004) g`);
    // the inserts changed the key set: this run compares (nothing to delete), creates them and marks the new key set
    const creating = await run();
    expect(creating.record.counts).toMatchObject({ created: 5, deleted: 0, failed: 0 });
    expect(creating.compared).toBe(true);
    expect((await stack.state.getReconcileMark(id))?.digest).toMatch(/^63:/);
    expect(await run()).toMatchObject({ compared: false, skipped: true });
    await assertInvariant(stack, id, selectAll());
  });

  it('a key inserted while a run that creates reads leaves no mark: the next run compares', async () => {
    await stack.pg.query(`INSERT INTO ${table()} VALUES (3000, 'row 3000', clock_timestamp())`);
    digests = 0;
    beforeEndDigest = () => stack.pg.query(`INSERT INTO ${table()} VALUES (3001, 'row 3001', clock_timestamp())`);
    const racing = await run();
    expect(racing.record.counts).toMatchObject({ created: 1, failed: 0 });
    expect(digests).toBe(2);
    expect(await stack.state.getReconcileMark(id)).toBeNull();
    const next = await run();
    expect(next.compared).toBe(true);
    expect(next.record.counts).toMatchObject({ created: 1, failed: 0 }); // row 3001, stamped after the racing run's high-water mark
    expect((await stack.state.getReconcileMark(id))?.digest).toMatch(/^65:/);
    await stack.pg.query(`DELETE FROM ${table()} WHERE id IN (3000, 3001)`);
    expect((await run()).record.counts).toMatchObject({ deleted: 2, failed: 0 });
    await assertInvariant(stack, id, selectAll());
  });

  it('a full run compares every key even while the mark holds', async () => {
    await run(); // the compare after the last deletes grounds the mark
    expect(await run()).toMatchObject({ skipped: true });
    const full = await run('full');
    expect(full).toMatchObject({ compared: true, skipped: false });
    expect(await run()).toMatchObject({ skipped: true });
  });

  it('a drift repair clears the mark (it may add ledger entries): the next run compares', async () => {
    expect(await stack.state.getReconcileMark(id)).not.toBeNull();
    const check = await requestDriftCheck(stack.deps, id, 'quick');
    await stack.waitForQuiet();
    await requestRepair(stack.deps, id, check.reportId, ['recreateMissing']);
    await stack.waitForQuiet();
    expect(await stack.state.getReconcileMark(id)).toBeNull();
    expect(await run()).toMatchObject({ compared: true, skipped: false });
    expect(await run()).toMatchObject({ compared: false, skipped: true });
  });

  it('a mark grounded more than an hour ago is not trusted: the run compares and grounds a new one', async () => {
    const mark = (await stack.state.getReconcileMark(id))!;
    const old = new Date(Date.now() - 61 * 60_000).toISOString();
    await stack.state.putReconcileMark(id, { ...mark, groundedAt: old });
    expect(await run()).toMatchObject({ compared: true, skipped: false });
    const fresh = (await stack.state.getReconcileMark(id))!;
    expect(Date.parse(fresh.groundedAt)).toBeGreaterThan(Date.parse(old));
    expect(await run()).toMatchObject({ compared: false, skipped: true });
  });

  it('a mark of another key or mapping version is not trusted', async () => {
    const mark = (await stack.state.getReconcileMark(id))!;
    await stack.state.putReconcileMark(id, { ...mark, mappingVersion: mark.mappingVersion + 1 });
    expect(await run()).toMatchObject({ compared: true });
    await stack.state.putReconcileMark(id, { ...mark, key: ['label'] });
    expect(await run()).toMatchObject({ compared: true });
    await stack.pg.query(`DELETE FROM ${table()} WHERE id IN (20, 21, 22)`);
    expect((await run()).record.counts).toMatchObject({ deleted: 3, failed: 0 });
    await assertInvariant(stack, id, selectAll());
  });

  it('with everyRuns 3 the compare (and the delete) comes on every third completed pass, as configured', async () => {
    const t = `"${stack.schema}".every3`;
    await stack.pg.query(`CREATE TABLE ${t} (id integer PRIMARY KEY, label text NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${t} SELECT g, 'row ' || g, clock_timestamp() - interval '1 hour' FROM generate_series(1, 10) g`);
    await stack.addDefinition({
      id: 'every3',
      table: { schema: stack.schema, name: 'every3' },
      title: 'label',
      fields: [{ source: 'id', target: 'RowNumber' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 1 },
      sharding: { strategy: 'none', list: 'Every Third' },
      deletes: { mode: 'reconcile', everyRuns: 3 },
    });
    expect((await stack.run('every3')).counts).toMatchObject({ created: 10 });
    await stack.pg.query(`DELETE FROM ${t} WHERE id = 5`);
    const deleted: number[] = [];
    for (let i = 0; i < 3; i++) deleted.push((await stack.run('every3')).counts.deleted);
    expect(deleted).toEqual([0, 0, 1]);
    await assertInvariant(stack, 'every3', `SELECT * FROM ${t}`);
  });
});
