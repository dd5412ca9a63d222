import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { createServices } from '../src/composition';
import { loadConfig } from '../src/config';
import { SyncDefinitionInput } from '../src/core/definitions';
import { QUEUES } from '../src/core/ports/bus';
import type { RunCounts, RunRecord } from '../src/core/ports/state';
import { PostgresStateStore } from '../src/adapters/state/sql-store';
import { startGraphEmulator } from '../src/emulator';
import { createFunctionTable } from '../src/functions';
import { LocalHost } from '../src/local/host';
import { startAzurite } from '../src/local/services';
import { planState } from '../src/sync/run-state';
import { newRunMessage } from '../src/sync/plan-run';

/**
 * `scale` (DESIGN §12, issue 13): peak RSS of a planning process at two table sizes.
 *
 * The planning process is its own Node child process hosting the product's `syncRuns` function
 * (planning, fan-out, finalize) on the local host's queue pump, with the product's composition
 * (PostgreSQL state store, Storage queues on Azurite, PostgreSQL source, Graph client over HTTP).
 * The emulator runs in this (the parent) process; Azurite and PostgreSQL are processes of their
 * own. So the child's RSS is the planner's alone.
 *
 * - `dryRun`: a dry run over the whole table (no writes; every row mapped, hashed, routed and
 *   looked up in the ledger).
 * - `real`: a first run against the Graph emulator at a raised budget, on the same table with a
 *   soft-delete column: 1 % of the rows are live (BENCH_SCALE_LIVE_EVERY, default every 100th),
 *   the rest flagged deleted and never synced. The planner reads, maps, hashes, routes and looks
 *   up every row, provisions the shard lists over Graph and fans each page's creates out to the
 *   real write queue. Writers (`syncWrites`, `syncMoves`) run in a second child process, as
 *   another instance would on Azure, started once the planner has fanned out every page (on two
 *   shared cores they would otherwise slow planning several-fold); the planner finalizes the run
 *   when the last batch settles, and its RSS is sampled until the run is closed. Creating every
 *   one of a million rows would spend ~10 minutes in Azurite's queue alone on this machine.
 *
 * Peak RSS is the kernel's high-water mark (`VmHWM` in /proc/self/status) of the child, cross-
 * checked by sampling `process.memoryUsage().rss` every 25 ms.
 */

export interface ScaleBenchOptions {
  pgUrl: string;
  /** Small and large table sizes (default 100,000 and 1,000,000). */
  sizes?: [number, number];
  modes?: ScaleMode[];
  /** The real run's live rows: every `liveEvery`-th row (default 100: 1 %); the rest are soft-deleted. */
  liveEvery?: number;
  log?: (line: string) => void;
}

export type ScaleMode = 'dryRun' | 'real';

export interface ScaleMeasurement {
  rows: number;
  mode: ScaleMode;
  /** Peak RSS of the planning process (VmHWM), MB. */
  peakRssMb: number;
  /** Highest sampled process.memoryUsage().rss, MB (a cross-check of VmHWM). */
  sampledPeakRssMb: number;
  /** RSS of the planning process once up, before the run message, MB. */
  idleRssMb: number;
  /** Highest sampled V8 heap in use, MB. */
  peakHeapUsedMb: number;
  /** V8 heap in use after a forced GC once the run closed (after the peak was read): what the process kept. */
  heapAfterRunMb: number | null;
  /** The same right after the process came up. */
  heapIdleMb: number | null;
  /** From sending the run message until every page was planned and fanned out. */
  planSeconds: number;
  /** Until the run closed (null when the bench stopped after planning). */
  runSeconds: number | null;
  status: string;
  phase: string | null;
  counts: RunCounts;
  batchesExpected: number;
  /** Rows the run should create: all rows on a dry run, the live rows on a real run. */
  liveRows: number;
  /** Items in the emulator's lists when the run closed. */
  itemsWritten: number;
}

export interface ScaleBenchResult {
  rss100kMb: number;
  rss1mMb: number;
  rssRatio: number;
  sizes: [number, number];
  /** Per mode: peak RSS at each size and the ratio. */
  byMode: Partial<Record<ScaleMode, { smallMb: number; largeMb: number; ratio: number }>>;
  measurements: ScaleMeasurement[];
  emulatorBudgetRuPerMinute: number;
  limiterBudgetRuPerMinute: number;
  latencyMs: number;
  pageSize: number;
  /** Share of the real run's rows that are live (written); the rest are soft-deleted and never synced. */
  realLiveShare: number;
  errors?: Record<string, string>;
}

const EMULATOR_BUDGET = 50_000_000;
const LIMITER_BUDGET = 1_000_000;
const MB = 1024 * 1024;
const round = (n: number, digits = 3) => Number(n.toFixed(digits));

type Role = 'planner' | 'writers';
interface ChildConfig {
  role: Role;
  storage: string;
  emulatorUrl: string;
  pgUrl: string;
  stateSchema: string;
  definitionId: string;
  mode: 'dryRun' | 'incremental';
}
type ToChild = { type: 'start'; config: ChildConfig } | { type: 'go' } | { type: 'stop' };
type FromChild =
  | { type: 'ready'; rssMb: number }
  | { type: 'planned'; seconds: number }
  | { type: 'done'; report: PlannerReport }
  | { type: 'failed'; error: string };

/** What the planning process reports: its share of a measurement, and the run record. */
type PlannerReport = Pick<ScaleMeasurement, 'peakRssMb' | 'sampledPeakRssMb' | 'idleRssMb' | 'peakHeapUsedMb' | 'heapAfterRunMb' | 'heapIdleMb' | 'planSeconds' | 'runSeconds'> & { run: RunRecord };

/** `archived` is false on every `liveEvery`-th row (the real run's live rows), true elsewhere. */
async function createTable(pg: Client, schema: string, rows: number, liveEvery: number): Promise<string> {
  const name = `rows_${rows}`;
  const table = `"${schema}".${name}`;
  await pg.query(`
    CREATE TABLE ${table} (
      id integer PRIMARY KEY,
      customer text NOT NULL,
      amount numeric(10,2) NOT NULL,
      quantity integer NOT NULL,
      ordered_at timestamptz NOT NULL,
      paid boolean NOT NULL,
      archived boolean NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )`);
  for (let from = 1; from <= rows; from += 100_000) {
    const to = Math.min(rows, from + 99_999);
    await pg.query(
      `INSERT INTO ${table} (id, customer, amount, quantity, ordered_at, paid, archived)
       SELECT g, 'Customer ' || (g % 5000), ((g % 100000) * 0.37)::numeric(10,2), g % 50,
              timestamptz '2021-01-01 00:00:00+00' + (g * interval '7 minutes'), g % 3 = 0, g % $3::int <> 0
       FROM generate_series($1::int, $2::int) g`,
      [from, to, liveEvery],
    );
  }
  await pg.query(`CREATE INDEX ON ${table} (updated_at, id)`);
  await pg.query(`ANALYZE ${table}`);
  return name;
}

function spawnChild(config: ChildConfig, onMessage: (m: FromChild) => void): ChildProcess {
  const child = fork(__filename, ['--scale-child'], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, SECRET_SCALE_PG: config.pgUrl },
  });
  child.on('message', onMessage);
  child.send({ type: 'start', config } satisfies ToChild);
  return child;
}

async function measure(opts: { pgUrl: string; srcSchema: string; table: string; rows: number; liveEvery: number; mode: ScaleMode; log: (l: string) => void }): Promise<ScaleMeasurement> {
  const { rows, mode, log } = opts;
  const stateSchema = `bench_scale_state_${Math.random().toString(36).slice(2, 8)}`;
  const azurite = await startAzurite();
  const emulator = await startGraphEmulator({ port: 0, budgetRuPerMinute: EMULATOR_BUDGET });
  const store = new PostgresStateStore({ url: opts.pgUrl, schema: stateSchema, poolMax: 2 });
  const children: ChildProcess[] = [];
  try {
    await store.init();
    const url = new URL(opts.pgUrl);
    await store.putSource({ id: 'pg', engine: 'postgres', host: url.hostname, port: Number(url.port || 5432), database: decodeURIComponent(url.pathname.slice(1)) || 'postgres', user: decodeURIComponent(url.username) || 'postgres', secretRef: 'scale-pg', tls: { enabled: false, rejectUnauthorized: false } });
    await store.putSharePoint({ id: 'sp', tenantId: 'tenant-1', clientId: 'client-1', auth: { kind: 'managedIdentity' } });
    const definitionId = `scale-${rows}`;
    const definition = SyncDefinitionInput.parse({
      id: definitionId,
      sources: [{ connectionId: 'pg', role: 'primary' }],
      target: { connectionId: 'sp', siteId: emulator.state.defaultSiteId, autoProvision: true },
      table: { schema: opts.srcSchema, name: opts.table },
      title: 'customer',
      fields: [{ source: 'amount' }, { source: 'quantity' }, { source: 'ordered_at' }, { source: 'paid' }],
      cursor: { kind: 'timestamp', column: 'updated_at' },
      sharding: { strategy: 'hash', buckets: 4, listTemplate: 'Scale {n}' },
      maxRowsPerRun: 1_000_000,
      // The real run writes the live rows only; the dry run plans a create for every row.
      ...(mode === 'real' ? { deletes: { mode: 'softDelete', column: 'archived' } } : {}),
    });
    const liveRows = mode === 'real' ? Math.floor(rows / opts.liveEvery) : rows;
    await store.putDefinition({ definition, mappingVersion: 0, activeSourceId: 'pg' });

    const base = { storage: azurite.connectionString, emulatorUrl: emulator.url, pgUrl: opts.pgUrl, stateSchema, definitionId, mode: mode === 'dryRun' ? ('dryRun' as const) : ('incremental' as const) };
    const report = await new Promise<{ report: PlannerReport }>((resolve, reject) => {
      const onExit = (name: string) => (code: number | null) => {
        if (code !== 0 && code !== null) reject(new Error(`${name} process exited with ${code}`));
      };
      const planner = spawnChild({ ...base, role: 'planner' }, (m) => {
        if (m.type === 'ready') {
          log(`  ${mode} ${rows}: planning process up (${m.rssMb} MB), run sent`);
          planner.send({ type: 'go' } satisfies ToChild);
        } else if (m.type === 'planned') {
          log(`  ${mode} ${rows}: every page planned and fanned out after ${m.seconds} s${mode === 'real' ? '; writers start' : ''}`);
          // The writers start once the planner has fanned out every page: on two shared cores they
          // would otherwise slow planning several-fold. Nothing of their work lives in the planner.
          if (mode === 'real') {
            const writers = spawnChild({ ...base, role: 'writers' }, (w) => {
              if (w.type === 'failed') reject(new Error(`writer process: ${w.error}`));
            });
            writers.on('exit', onExit('writer'));
            children.push(writers);
          }
        } else if (m.type === 'done') resolve({ report: m.report });
        else if (m.type === 'failed') reject(new Error(`planning process: ${m.error}`));
      });
      planner.on('exit', onExit('planning'));
      children.push(planner);
    });
    const r = report.report;
    const itemsWritten = emulator.state.lists().reduce((n, l) => n + l.itemCount, 0);
    const run = r.run;
    if (mode === 'dryRun' && (run.status !== 'succeeded' || run.counts.read !== rows)) throw new Error(`dry run did not complete: ${run.status} ${run.error ?? ''} ${JSON.stringify(run.counts)}`);
    if (mode === 'real' && (run.status !== 'succeeded' || run.counts.read !== rows || run.counts.created !== liveRows || itemsWritten !== liveRows)) {
      throw new Error(`real run did not complete: ${run.status} ${run.error ?? ''} ${JSON.stringify(run.counts)}, ${itemsWritten} items`);
    }
    return {
      rows,
      mode,
      peakRssMb: r.peakRssMb,
      sampledPeakRssMb: r.sampledPeakRssMb,
      idleRssMb: r.idleRssMb,
      peakHeapUsedMb: r.peakHeapUsedMb,
      heapIdleMb: r.heapIdleMb ?? null,
      heapAfterRunMb: r.heapAfterRunMb ?? null,
      planSeconds: r.planSeconds,
      runSeconds: r.runSeconds,
      status: run.status,
      phase: planState(run)?.phase ?? null,
      counts: run.counts,
      batchesExpected: run.batchesExpected,
      liveRows,
      itemsWritten,
    };
  } finally {
    for (const c of children) c.kill();
    await emulator.close().catch(() => undefined);
    await store.dropSchema().catch(() => undefined);
    await store.close().catch(() => undefined);
    await azurite.stop().catch(() => undefined);
  }
}

export async function benchScale(options: ScaleBenchOptions): Promise<ScaleBenchResult | { errors: Record<string, string> }> {
  const log = options.log ?? (() => {});
  const sizes = options.sizes ?? [100_000, 1_000_000];
  const modes = options.modes ?? ['dryRun', 'real'];
  const liveEvery = options.liveEvery ?? 100;
  const pg = new Client({ connectionString: options.pgUrl });
  await pg.connect();
  const srcSchema = `bench_scale_src_${Math.random().toString(36).slice(2, 8)}`;
  const measurements: ScaleMeasurement[] = [];
  const errors: Record<string, string> = {};
  try {
    await pg.query(`CREATE SCHEMA "${srcSchema}"`);
    const tables: string[] = [];
    for (const rows of sizes) {
      const t = Date.now();
      tables.push(await createTable(pg, srcSchema, rows, liveEvery));
      log(`  source table of ${rows} rows created in ${Math.round((Date.now() - t) / 1000)} s`);
    }
    for (const mode of modes) {
      for (let i = 0; i < sizes.length; i++) {
        const rows = sizes[i]!;
        try {
          const m = await measure({ pgUrl: options.pgUrl, srcSchema, table: tables[i]!, rows, mode, liveEvery, log });
          log(`  ${mode} ${rows}: peak RSS ${m.peakRssMb} MB (sampled ${m.sampledPeakRssMb} MB, idle ${m.idleRssMb} MB, heap ≤ ${m.peakHeapUsedMb} MB; after GC ${m.heapIdleMb} MB idle, ${m.heapAfterRunMb} MB after the run), planned in ${m.planSeconds} s`);
          measurements.push(m);
        } catch (error) {
          errors[`${mode}.${rows}`] = error instanceof Error ? error.message : String(error);
          log(`  ${mode} ${rows} failed: ${errors[`${mode}.${rows}`]}`);
        }
      }
    }
  } finally {
    await pg.query(`DROP SCHEMA IF EXISTS "${srcSchema}" CASCADE`).catch(() => undefined);
    await pg.end().catch(() => undefined);
  }
  const byMode: ScaleBenchResult['byMode'] = {};
  for (const mode of modes) {
    const small = measurements.find((m) => m.mode === mode && m.rows === sizes[0]);
    const large = measurements.find((m) => m.mode === mode && m.rows === sizes[1]);
    if (small && large) byMode[mode] = { smallMb: small.peakRssMb, largeMb: large.peakRssMb, ratio: round(large.peakRssMb / small.peakRssMb) };
  }
  const peak = (rows: number) => {
    const of = measurements.filter((m) => m.rows === rows);
    return of.length === modes.length ? Math.max(...of.map((m) => m.peakRssMb)) : null;
  };
  const small = peak(sizes[0]);
  const large = peak(sizes[1]);
  if (small === null || large === null) return { errors };
  const result: ScaleBenchResult = {
    rss100kMb: small,
    rss1mMb: large,
    rssRatio: round(large / small),
    sizes,
    byMode,
    measurements,
    emulatorBudgetRuPerMinute: EMULATOR_BUDGET,
    limiterBudgetRuPerMinute: LIMITER_BUDGET,
    latencyMs: 0,
    pageSize: 2000,
    realLiveShare: 1 / liveEvery,
  };
  if (Object.keys(errors).length) result.errors = errors;
  return result;
}

// ---- the child processes --------------------------------------------------------------------------

function vmHwmMb(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : null;
  } catch {
    return null;
  }
}

async function runChild(config: ChildConfig): Promise<void> {
  const send = (m: FromChild) => process.send!(m);
  const cfg = loadConfig({
    AzureWebJobsStorage: config.storage,
    QUEUE_TRANSPORT: 'storage',
    STATE_STORE: 'postgres',
    STATE_SQL_URL: config.pgUrl,
    STATE_SQL_SCHEMA: config.stateSchema,
    GRAPH_BASE_URL: config.emulatorUrl,
    GRAPH_STATIC_TOKEN: 'bench-token',
    GRAPH_BUDGET_RU_PER_MINUTE: String(LIMITER_BUDGET),
    GRAPH_MAX_CONCURRENCY: '16',
    LOCAL_FUNCTION_KEY: 'bench-function-key',
    SECRET_SCALE_PG: config.pgUrl,
  });
  const services = createServices(cfg);
  const names = config.role === 'planner' ? ['syncRuns'] : ['syncWrites', 'syncMoves'];
  const functions = createFunctionTable(services).filter((f) => f.kind === 'queue' && names.includes(f.name));
  const host = new LocalHost({ functions, port: 0, storageConnectionString: config.storage, functionKey: 'bench-function-key', queues: { pollIntervalMs: 20, retryDelayMs: 0, maxDequeueCount: 8 }, log: () => undefined, env: { ...process.env } });
  await host.start();
  if (config.role === 'writers') return; // pumps until the parent stops it

  const state = await services.state();
  let sampledPeak = 0;
  let heapPeak = 0;
  const sample = () => {
    const m = process.memoryUsage();
    sampledPeak = Math.max(sampledPeak, m.rss);
    heapPeak = Math.max(heapPeak, m.heapUsed);
  };
  await new Promise((r) => setTimeout(r, 500));
  const gcIdle = (globalThis as { gc?: () => void }).gc;
  gcIdle?.();
  const heapIdleMb = gcIdle ? round(process.memoryUsage().heapUsed / MB, 1) : null;
  const idleRss = process.memoryUsage().rss;
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  send({ type: 'ready', rssMb: round(idleRss / MB, 1) });
  await go;
  const sampler = setInterval(sample, 25);
  // Diagnostic only (changes GC timing, so never in a measured run): live heap every 5 s.
  const probe = process.env.BENCH_SCALE_LIVE_PROBE === '1' && gcIdle
    ? setInterval(() => {
        gcIdle();
        const m = process.memoryUsage();
        console.log(`    live after GC: heap ${round(m.heapUsed / MB, 1)} MB, array buffers ${round(m.arrayBuffers / MB, 1)} MB, rss ${round(m.rss / MB, 1)} MB`);
      }, 5000)
    : undefined;
  const message = newRunMessage(config.definitionId, config.mode, 'manual', new Date());
  const started = performance.now();
  await services.bus().send(QUEUES.runs, [{ body: message, messageId: message.runId, sessionId: config.definitionId }]);
  let planSeconds: number | null = null;
  let runSeconds: number | null = null;
  let run: RunRecord | null = null;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    run = await state.getRun(message.runId);
    if (!run) continue;
    const phase = planState(run)?.phase;
    if (planSeconds === null && phase && phase !== 'planning') {
      planSeconds = round((performance.now() - started) / 1000, 1);
      send({ type: 'planned', seconds: planSeconds });
    }
    if (run.status !== 'running' && run.status !== 'queued') {
      runSeconds = round((performance.now() - started) / 1000, 1);
      planSeconds ??= runSeconds;
      break;
    }
  }
  clearInterval(sampler);
  if (probe) clearInterval(probe);
  sample();
  const peakRss = vmHwmMb();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapAfterRunMb = gc ? round(process.memoryUsage().heapUsed / MB, 1) : null;
  send({
    type: 'done',
    report: { peakRssMb: peakRss ?? round(sampledPeak / MB, 1), heapAfterRunMb, heapIdleMb, sampledPeakRssMb: round(sampledPeak / MB, 1), idleRssMb: round(idleRss / MB, 1), peakHeapUsedMb: round(heapPeak / MB, 1), planSeconds: planSeconds!, runSeconds, run: run! },
  });
}

if (process.argv.includes('--scale-child')) {
  process.once('message', (m: ToChild) => {
    if (m.type !== 'start') return;
    runChild(m.config).catch((error: unknown) => {
      process.send!({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies FromChild);
      process.exit(1);
    });
  });
}
