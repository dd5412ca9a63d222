import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { PostgresStateStore } from '../../../src/adapters/state/sql-store';
import { POSTGRES_MIGRATIONS } from '../../../src/adapters/state/migrations/postgres';
import { isSyncError } from '../../../src/core/errors';
import { runStateStoreContract } from './contract/index';

const url = process.env.TEST_PG_URL ?? '';
const schema = `st_${randomBytes(4).toString('hex')}`;
/** PGlite multiplexes one backend over its socket and takes ten connections at most. */
const poolMax = process.env.TEST_PG_KIND === 'pglite' || process.env.STATE_TEST_SMALL_POOL ? 1 : 5;

runStateStoreContract(`PostgreSQL (${process.env.TEST_PG_KIND ?? 'postgres'})`, async () => {
  const open = () => new PostgresStateStore({ url, schema, poolMax });
  return {
    store: open(),
    open,
    cleanup: async () => {
      const admin = new PostgresStateStore({ url, schema, poolMax: 1 });
      await admin.dropSchema();
      await admin.close();
    },
  };
});

describe('PostgreSQL specifics', () => {
  const schemaB = `${schema}_m`;
  let client: Client;
  beforeAll(async () => {
    client = new Client({ connectionString: url });
    await client.connect();
  });
  afterAll(async () => {
    await client.query(`DROP SCHEMA IF EXISTS "${schemaB}" CASCADE`);
    await client.end();
  });

  it('migrations are recorded once per version, and init refuses a schema newer than the build', async () => {
    const store = new PostgresStateStore({ url, schema: schemaB, poolMax: 2 });
    await Promise.all([store.init(), store.init()]);
    const applied = await client.query(`SELECT version, name FROM "${schemaB}".migrations ORDER BY version`);
    expect(applied.rows.map((r: { version: number }) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    await client.query(`INSERT INTO "${schemaB}".migrations (version, name) VALUES (999, 'from the future')`);
    let caught: unknown;
    await store.init().catch((e: unknown) => (caught = e));
    expect(isSyncError(caught, 'state_schema_newer')).toBe(true);
    await store.close();
  });

  it('the database itself refuses a second identity for an item, whoever writes', async () => {
    const store = new PostgresStateStore({ url, schema: schemaB, poolMax: 1 });
    await store.putLedger([{ definitionId: 'd', identityHash: 'a', listId: 'l', itemId: '1', contentHash: 'c', state: 'synced' }]);
    await expect(
      client.query(`INSERT INTO "${schemaB}".ledger (definition_id, identity_hash, list_id, item_id, content_hash, state) VALUES ('d', 'b', 'l', '1', 'c', 'synced')`),
    ).rejects.toMatchObject({ code: '23505' });
    await store.close();
  });

  it('the ledger statistics are refreshed once a store has written enough ledger rows since the last refresh', async () => {
    const schemaE = `${schema}_a`;
    const store = new PostgresStateStore({ url, schema: schemaE, poolMax: 1, statisticsRefreshRows: 50 });
    const entries = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ definitionId: 'd', identityHash: `h${from + i}`, listId: 'l', itemId: String(from + i), contentHash: 'c', state: 'synced' as const }));
    // reltuples is -1 until the table is first analysed; ANALYZE sets it transactionally (no stats-collector lag)
    const tuples = async () => Number((await client.query(`SELECT reltuples FROM pg_class WHERE oid = '"${schemaE}".ledger'::regclass`)).rows[0].reltuples);
    try {
      await store.init();
      await store.putLedger(entries(0, 40));
      expect(await tuples()).toBe(-1);
      await store.putLedger(entries(40, 20));
      expect(await tuples()).toBe(60);
    } finally {
      await store.dropSchema();
      await store.close();
    }
  });

  it('migration 3 carries reconcile counts kept as reconcile~ schedule slots over to their own table', async () => {
    const schemaC = `${schema}_r`;
    const before = new PostgresStateStore({ url, schema: schemaC, poolMax: 1, migrations: POSTGRES_MIGRATIONS.filter((m) => m.version < 3) });
    const after = new PostgresStateStore({ url, schema: schemaC, poolMax: 1 });
    try {
      await before.init();
      await before.casLastSlot('reconcile~def-a', null, '4');
      await before.casLastSlot('def-a', null, '2025-01-01T00:00:00.000Z');
      await after.init();
      expect(await after.getReconcilePasses('def-a')).toBe(4);
      expect(await after.getLastSlot('def-a')).toBe('2025-01-01T00:00:00.000Z');
      expect(await after.getLastSlot('reconcile~def-a')).toBeNull();
    } finally {
      await after.dropSchema();
      await Promise.all([before.close(), after.close()]);
    }
  });

  it('migration 6 adds the run wait and progress columns to a schema that holds runs', async () => {
    const schemaD = `${schema}_w`;
    const before = new PostgresStateStore({ url, schema: schemaD, poolMax: 1, migrations: POSTGRES_MIGRATIONS.filter((m) => m.version < 6) });
    const after = new PostgresStateStore({ url, schema: schemaD, poolMax: 1 });
    try {
      await before.init();
      // A run row as builds before migration 6 wrote it (today's code writes the new columns).
      await client.query(`INSERT INTO "${schemaD}".runs (run_id, definition_id, mode, run_trigger, status, started_at, listed_at) VALUES ('run-old', 'def-a', 'incremental', 'schedule', 'running', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`);
      await after.init();
      await after.updateRun('run-old', { waitingUntil: '2025-01-01T00:05:00.000Z', waitingReason: 'throttled', progressAt: '2025-01-01T00:01:00.000Z' });
      expect(await after.getRun('run-old')).toMatchObject({ status: 'running', waitingUntil: '2025-01-01T00:05:00.000Z', waitingReason: 'throttled', progressAt: '2025-01-01T00:01:00.000Z' });
    } finally {
      await after.dropSchema();
      await Promise.all([before.close(), after.close()]);
    }
  });

  it('migration 11 gives runs recorded before it an RU counter of 0 that increments, and adds the plan pages', async () => {
    const schemaF = `${schema}_p`;
    const before = new PostgresStateStore({ url, schema: schemaF, poolMax: 1, migrations: POSTGRES_MIGRATIONS.filter((m) => m.version < 11) });
    const after = new PostgresStateStore({ url, schema: schemaF, poolMax: 1 });
    try {
      await before.init();
      await client.query(`INSERT INTO "${schemaF}".runs (run_id, definition_id, mode, run_trigger, status, started_at, listed_at) VALUES ('run-old', 'def-a', 'dryRun', 'manual', 'succeeded', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`);
      await after.init();
      expect((await after.getRun('run-old'))?.ruSpent).toBe(0);
      expect((await after.incrementRun('run-old', { ruSpent: 7 })).ruSpent).toBe(7);
      await after.putRunPlanPage({ runId: 'run-old', list: 'Orders', op: 'create', page: 0, items: [{ key: [1] }] });
      expect(await after.getRunPlanPage('run-old', 'Orders', 'create', 0)).toEqual([{ key: [1] }]);
    } finally {
      await after.dropSchema();
      await Promise.all([before.close(), after.close()]);
    }
  });

  it('a schema name that is not a plain identifier is refused before any SQL runs', () => {
    expect(() => new PostgresStateStore({ url, schema: 'x"; drop table y; --' })).toThrow(/schema/);
  });
});
