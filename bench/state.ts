import { createHash, randomBytes } from 'node:crypto';
import type { LedgerEntry, StateStore } from '../src/core/ports/state';
import { PostgresStateStore } from '../src/adapters/state/sql-store';
import { TableStateStore } from '../src/adapters/state/table-store';
import { startAzurite, startPostgres } from '../src/local/services';

/**
 * State-store benchmark (DESIGN §12, `state`): per store, the time to upsert 500 ledger
 * entries and to look 500 up by identity hash, as milliseconds per 1000 entries.
 *
 * Upserts go in batches of LEDGER_BATCH, the size of one write-batch message (five Graph
 * `$batch` calls of 20), which is how the write handler records what it wrote. Lookups are one
 * getLedger call for the whole page, as the planner does. Each figure is the median of ROUNDS
 * rounds, after a warm-up that opens connections.
 */

export const LEDGER_BATCH = 100;
const ENTRIES = 500;
const ROUNDS = 3;

export interface StoreFigures {
  lookupMsPer1000: number;
  upsertMsPer1000: number;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const round1 = (x: number) => Math.round(x * 10) / 10;

function entries(definitionId: string, round: number): LedgerEntry[] {
  return Array.from({ length: ENTRIES }, (_, i) => ({
    definitionId,
    identityHash: sha(`${round}:${i}`),
    listId: '7f1c0a52-4a8e-4f41-9d0e-0c0c3d2b9a11',
    itemId: String(round * ENTRIES + i + 1),
    contentHash: sha(`content:${round}:${i}`),
    state: 'synced' as const,
  }));
}

export async function measureStore(store: StateStore, definitionId = `bench-${randomBytes(3).toString('hex')}`): Promise<StoreFigures> {
  await store.putLedger(entries(`${definitionId}-warm`, 99).slice(0, 20));
  await store.getLedger(`${definitionId}-warm`, entries(`${definitionId}-warm`, 99).slice(0, 20).map((e) => e.identityHash));
  const upserts: number[] = [];
  const lookups: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const batch = entries(definitionId, round);
    let t = performance.now();
    for (let i = 0; i < batch.length; i += LEDGER_BATCH) await store.putLedger(batch.slice(i, i + LEDGER_BATCH));
    upserts.push(performance.now() - t);
    t = performance.now();
    const found = await store.getLedger(definitionId, batch.map((e) => e.identityHash));
    lookups.push(performance.now() - t);
    if (found.size !== ENTRIES) throw new Error(`lookup found ${found.size} of ${ENTRIES} entries`);
  }
  const per1000 = 1000 / ENTRIES;
  return { lookupMsPer1000: round1(median(lookups) * per1000), upsertMsPer1000: round1(median(upserts) * per1000) };
}

async function withTableStore<T>(storageConnection: string, lookup: 'point' | 'filter', work: (store: TableStateStore) => Promise<T>): Promise<T> {
  const store = new TableStateStore({ connectionString: storageConnection, tablePrefix: `bench${randomBytes(3).toString('hex')}`, lookup });
  await store.init();
  try {
    return await work(store);
  } finally {
    await store.dropAll();
  }
}

async function withPostgresStore<T>(pgUrl: string, work: (store: PostgresStateStore) => Promise<T>): Promise<T> {
  const schema = `bench_${randomBytes(3).toString('hex')}`;
  const store = new PostgresStateStore({ url: pgUrl, schema, poolMax: 4 });
  try {
    await store.init();
    return await work(store);
  } finally {
    await store.dropSchema().catch(() => undefined);
    await store.close();
  }
}

export async function benchState(opts: { storageConnection: string; pgUrl: string }): Promise<{ table: StoreFigures; postgres: StoreFigures }> {
  const table = await withTableStore(opts.storageConnection, 'point', (store) => measureStore(store));
  const postgres = await withPostgresStore(opts.pgUrl, (store) => measureStore(store));
  return { table, postgres };
}

/**
 * Why getLedger uses parallel point reads on Table Storage: compares them with OR'ed RowKey
 * filters (at most 14 keys per query, the service's 15-comparison limit) in a partition that
 * also holds `background` other entries, since a filter's cost grows with what it must scan.
 */
export async function compareTableLookups(storageConnection: string, background = 2000): Promise<Record<'point' | 'filter', number>> {
  const out = { point: 0, filter: 0 };
  for (const lookup of ['point', 'filter'] as const) {
    out[lookup] = await withTableStore(storageConnection, lookup, async (store) => {
      const def = 'bench-lookup';
      const filler = Array.from({ length: background }, (_, i) => ({ ...entries(def, 50)[0]!, identityHash: sha(`bg:${i}`), itemId: `bg-${i}` }));
      for (let i = 0; i < filler.length; i += LEDGER_BATCH) await store.putLedger(filler.slice(i, i + LEDGER_BATCH));
      return (await measureStore(store, def)).lookupMsPer1000;
    });
  }
  return out;
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  const pg = await startPostgres();
  try {
    const figures = await benchState({ storageConnection: azurite.connectionString, pgUrl: pg.url });
    const lookups = await compareTableLookups(azurite.connectionString);
    const rows = [
      ['store', 'lookup ms/1000', 'upsert ms/1000'],
      ['table (Azurite)', String(figures.table.lookupMsPer1000), String(figures.table.upsertMsPer1000)],
      [`postgres (${pg.kind})`, String(figures.postgres.lookupMsPer1000), String(figures.postgres.upsertMsPer1000)],
    ];
    for (const r of rows) console.log(`${r[0]!.padEnd(20)}${r[1]!.padStart(16)}${r[2]!.padStart(16)}`);
    console.log(`\nTable lookups with 2000 other entries in the partition: point reads ${lookups.point} ms/1000, OR-filters ${lookups.filter} ms/1000`);
    console.log(JSON.stringify({ state: figures }));
  } finally {
    await Promise.all([azurite.stop(), pg.stop()]);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
