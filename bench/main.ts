import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAzurite, startPostgres, type AzuriteHandle, type PostgresHandle } from '../src/local/services';
import { benchBaseline, type BaselineResult } from './baseline';
import { benchDrift, type DriftBenchResult } from './drift';
import { benchGraph, type GraphBenchResult } from './graph';
import { benchPipeline, type PipelineBenchResult } from './pipeline';
import { benchScale, type ScaleBenchResult } from './scale';
import { benchScaleOut, type ScaleOutBenchResult } from './scale-out';
import { benchState } from './state';

/**
 * `npm run bench` (DESIGN §12): runs the graph, state, pipeline, scaleOut, baseline and drift benchmarks, prints each
 * figure next to its target and writes `bench-results/latest.json`.
 *
 *   npm run bench                          all parts, full sizes (several minutes)
 *   npm run bench -- --only graph,pipeline  some parts
 *   npm run bench -- --quick                smaller sizes (a smoke run; figures are not comparable)
 *   npm run bench -- --pipeline-state table the pipeline's state store on Azurite Table Storage
 *                                           (default: PostgreSQL; Azurite's Table emulation slows
 *                                           down as the ledger grows, see bench/README.md)
 *
 * A part that fails or is not run is left out of the JSON (its error is listed under `errors`),
 * never filled with a made-up number.
 */

type Part = 'graph' | 'state' | 'pipeline' | 'scaleOut' | 'baseline' | 'drift' | 'scale';
const PARTS: Part[] = ['graph', 'state', 'pipeline', 'scaleOut', 'baseline', 'drift', 'scale'];

interface Args {
  only: Part[];
  quick: boolean;
  out: string;
  pipelineState: 'postgres' | 'table';
}

function parseArgs(argv: string[]): Args {
  const args: Args = { only: PARTS, quick: false, out: path.join('bench-results', 'latest.json'), pipelineState: 'postgres' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (name: string) => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new Error(`${name} needs a value`);
      return next;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const parts = value('--only').split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = parts.filter((p) => !PARTS.includes(p as Part));
      if (unknown.length) throw new Error(`unknown part(s) ${unknown.join(', ')}; choose from ${PARTS.join(', ')}`);
      args.only = parts as Part[];
    } else if (a === '--out' || a.startsWith('--out=')) args.out = value('--out');
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench -- [--only graph,state,pipeline,scaleOut,baseline,drift,scale] [--quick] [--pipeline-state postgres|table] [--out bench-results/latest.json]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

const started = Date.now();
const stamp = () => `[${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s]`;
const log = (line: string) => console.log(`${stamp()} ${line}`);

function gitCommit(): string | null {
  try {
    return execSync('git rev-parse HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return null;
  }
}

function gitDirty(): boolean | null {
  try {
    return execSync('git status --porcelain --untracked-files=no', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().length > 0;
  } catch {
    return null;
  }
}

// ---- the printed table ------------------------------------------------------------------------

interface Row {
  figure: string;
  value: number | null | undefined;
  unit?: string;
  target?: string;
  /** ratio of value to target (printed), and whether it meets it */
  check?: { ratio?: number; pass: boolean };
}

const atLeast = (value: number, target: number): Row['check'] => ({ ratio: value / target, pass: value >= target });
const atMost = (value: number, target: number): Row['check'] => ({ ratio: target === 0 ? undefined : value / target, pass: value <= target });
const within = (value: number, target: number, tolerance: number): Row['check'] => ({ ratio: value / target, pass: Math.abs(value - target) <= target * tolerance });

function fmt(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  const abs = Math.abs(n);
  return abs >= 100 ? n.toFixed(1) : abs >= 1 ? n.toFixed(3) : n.toFixed(4);
}

function printTable(title: string, rows: Row[]): void {
  const header = ['figure', 'value', 'target', 'ratio', ''];
  const cells = rows.map((r) => [
    r.figure,
    `${fmt(r.value)}${r.unit ? ` ${r.unit}` : ''}`,
    r.target ?? '—',
    r.check?.ratio === undefined ? '' : r.check.ratio.toFixed(3),
    r.check ? (r.check.pass ? 'PASS' : 'FAIL') : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => (i === 0 || i === 4 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

function graphRows(g: GraphBenchResult): Row[] {
  return [
    { figure: 'RU utilisation', value: g.ruUtilisation, target: '≥ 0.90', check: atLeast(g.ruUtilisation, 0.9) },
    { figure: 'throttled share', value: g.throttledShare, target: '≤ 0.01', check: atMost(g.throttledShare, 0.01) },
    { figure: 'items / s', value: g.itemsPerSecond },
    { figure: 'HTTP requests / item', value: g.requestsPerItem, target: '0.05 (1 $batch / 20)' },
    { figure: 'Graph requests / item', value: g.graphRequestsPerItem, target: '1' },
    { figure: 'items', value: g.items },
    { figure: 'budget', value: g.budgetRuPerMinute, unit: 'RU/min' },
    { figure: 'latency', value: g.latencyMs, unit: 'ms' },
    // The physical floor: a full budget at once, then one more window per further budget's worth.
    { figure: 'duration', value: g.seconds, unit: 's', target: `≥ ${60 * (Math.ceil((g.items * 2) / g.budgetRuPerMinute) - 1)} s + transfer` },
  ];
}

function scaleOutRows(so: ScaleOutBenchResult): Row[] {
  return [
    { figure: 'worker processes', value: so.workers },
    { figure: 'aggregate RU / min ÷ budget', value: so.ruUtilisation, target: '≥ 0.90', check: atLeast(so.ruUtilisation, 0.9) },
    { figure: 'throttled share', value: so.throttledShare, target: '≤ 0.01', check: atMost(so.throttledShare, 0.01) },
    { figure: 'items', value: so.items },
    { figure: 'budget', value: so.budgetRuPerMinute, unit: 'RU/min' },
    { figure: 'budget shares', value: so.budgetShares },
    { figure: 'latency', value: so.latencyMs, unit: 'ms' },
    { figure: 'duration', value: so.seconds, unit: 's' },
  ];
}

function stateRows(s: StateFigures): Row[] {
  const rows: Row[] = [];
  for (const [store, f] of Object.entries(s)) {
    rows.push({ figure: `${store}: lookup`, value: f.lookupMsPer1000, unit: 'ms / 1000' });
    rows.push({ figure: `${store}: upsert`, value: f.upsertMsPer1000, unit: 'ms / 1000' });
  }
  return rows;
}

function pipelineRows(p: PipelineBenchResult): Row[] {
  const rows: Row[] = [];
  const i = p.initialLoad;
  if (i) {
    rows.push(
      { figure: 'initial load: rows', value: i.rows },
      { figure: 'initial load: Graph requests', value: i.graphRequests },
      { figure: 'initial load: RU charged', value: i.ru },
      { figure: 'initial load: RU / changed row', value: i.ruPerChangedRow, target: '2.0 ± 2 %', check: within(i.ruPerChangedRow, 2, 0.02) },
      { figure: '  of which item writes', value: i.writeRuPerChangedRow, target: '2.0' },
      { figure: '  provisioning RU', value: i.provisioningRu },
      { figure: 'initial load: RU utilisation', value: i.ruUtilisation, target: '≥ 0.90', check: atLeast(i.ruUtilisation, 0.9) },
      { figure: '  over the write phase only', value: i.ruUtilisationWritePhase, target: '≥ 0.90', check: atLeast(i.ruUtilisationWritePhase, 0.9) },
      { figure: 'initial load: throttled share', value: i.throttledShare, target: '≤ 0.01', check: atMost(i.throttledShare, 0.01) },
      { figure: 'initial load: duration', value: i.seconds, unit: 's' },
      { figure: '  planning (to first write)', value: i.planSeconds, unit: 's' },
      { figure: '  writing', value: i.writeSeconds, unit: 's' },
      { figure: 'initial load: CPU / row (all work)', value: i.cpuMicrosPerRow, unit: 'µs' },
      { figure: 'initial load: budget', value: i.budgetRuPerMinute, unit: 'RU/min' },
      { figure: 'initial load: latency', value: i.latencyMs, unit: `ms + ≤ ${i.latencyJitterMs} jitter` },
    );
  }
  const d = p.idleRun;
  if (d) {
    rows.push(
      { figure: 'idle run: rows in table', value: d.tableRows },
      { figure: 'idle run: rows read (incremental)', value: d.rows, target: 'rows at the cursor mark' },
      { figure: 'idle run: Graph requests', value: d.graphRequests, target: '0', check: { pass: d.graphRequests === 0 } },
      { figure: 'idle run: source queries', value: d.sourceQueries },
      { figure: 'idle run: source table scans', value: d.sourceTableScans },
      { figure: 'idle run: duration', value: d.seconds, unit: 's' },
      { figure: 'full run: rows read', value: d.full.rows, target: fmt(d.tableRows), check: { pass: d.full.rows === d.tableRows } },
      { figure: 'full run: runs (continuations incl.)', value: d.full.runs, target: '1', check: { pass: d.full.runs === 1 } },
      { figure: 'full run: Graph requests', value: d.full.graphRequests, target: '0', check: { pass: d.full.graphRequests === 0 } },
      { figure: 'full run: source queries', value: d.full.sourceQueries },
      { figure: 'full run: duration', value: d.full.seconds, unit: 's' },
      { figure: 'idle setup load (not measured)', value: d.setup.seconds, unit: 's' },
    );
  }
  const u = p.updateBytesPerRow;
  if (u) {
    rows.push(
      { figure: `update: PATCH bytes / row, all ${u.mappedFields} fields (before)`, value: u.allFields, unit: 'B' },
      { figure: `update: PATCH bytes / row, changed field only`, value: u.changedFields, unit: 'B' },
      { figure: 'update: changed ÷ all', value: u.ratio, target: '< 1', check: { pass: u.ratio < 1 } },
      { figure: 'update: rows updated / table rows', value: u.updatedRows, unit: `/ ${u.tableRows}` },
    );
  }
  if (p.cpuMicrosPerRow !== undefined) rows.push({ figure: 'CPU / row planned (full run)', value: p.cpuMicrosPerRow, unit: 'µs', target: '≤ 50', check: atMost(p.cpuMicrosPerRow, 50) });
  if (d && d.full.cpuMicrosPerRowNetOfIdle !== null) rows.push({ figure: '  net of idle polling', value: d.full.cpuMicrosPerRowNetOfIdle, unit: 'µs', target: '≤ 50', check: atMost(d.full.cpuMicrosPerRowNetOfIdle, 50) });
  if (d && d.full.idleShareOfCpu !== null) rows.push({ figure: '  idle polling share of it', value: d.full.idleShareOfCpu, unit: `(${Math.round(d.full.idleCpuMicrosPerSecond / 1000)} ms CPU/s idle)` });
  return rows;
}

function scaleRows(s: ScaleBenchResult): Row[] {
  const rows: Row[] = [
    { figure: `peak RSS at ${fmt(s.sizes[0])} rows`, value: s.rss100kMb, unit: 'MB' },
    { figure: `peak RSS at ${fmt(s.sizes[1])} rows`, value: s.rss1mMb, unit: 'MB' },
    { figure: 'RSS ratio (large ÷ small)', value: s.rssRatio, target: '≤ 1.3', check: atMost(s.rssRatio, 1.3) },
  ];
  for (const m of s.measurements) {
    rows.push({ figure: `  ${m.mode} ${fmt(m.rows)}: peak RSS`, value: m.peakRssMb, unit: `MB (idle ${m.idleRssMb}, heap ≤ ${m.peakHeapUsedMb})` });
    rows.push({ figure: `  ${m.mode} ${fmt(m.rows)}: planned in`, value: m.planSeconds, unit: `s${m.mode === 'dryRun' ? '' : `, run closed in ${m.runSeconds} s, ${fmt(m.itemsWritten)} items created`}` });
  }
  for (const [mode, r] of Object.entries(s.byMode)) rows.push({ figure: `  ${mode}: RSS ratio`, value: r.ratio, target: '≤ 1.3', check: atMost(r.ratio, 1.3) });
  return rows;
}

const BASELINE_TARGETS: Record<string, { wall: number; ruZero?: boolean }> = {
  initialLoad: { wall: 0.95 },
  idle: { wall: 0.5, ruZero: true },
  update: { wall: 0.5 },
  delete: { wall: Infinity },
  idle200k: { wall: 0.05, ruZero: true },
  update200k: { wall: 0.05 },
};

function baselineRows(b: Omit<BaselineResult, 'errors'>): Row[] {
  const rows: Row[] = [];
  for (const [phase, p] of Object.entries(b.phases)) {
    const target = BASELINE_TARGETS[phase]!;
    rows.push(
      { figure: `${phase}: wall ours ÷ theirs`, value: p.wallRatio, target: Number.isFinite(target.wall) ? `≤ ${target.wall}` : undefined, check: Number.isFinite(target.wall) ? atMost(p.wallRatio, target.wall) : undefined },
      { figure: `${phase}: RU ours ÷ theirs`, value: p.ruRatio, target: target.ruZero ? '0' : '≤ 1', check: p.ruRatio === null ? { pass: !!target.ruZero } : target.ruZero ? { pass: p.ruRatio === 0 } : atMost(p.ruRatio, 1) },
      { figure: `  wall s ours / theirs`, value: p.ours.wallSeconds, unit: `s / ${p.theirs.wallSeconds} s` },
      { figure: `  RU ours / theirs`, value: p.ours.ru, unit: `/ ${p.theirs.ru}` },
      { figure: `  requests ours / theirs`, value: p.ours.requests, unit: `/ ${p.theirs.requests}` },
      { figure: `  429s ours / theirs`, value: p.ours.throttled, unit: `/ ${p.theirs.throttled}`, target: phase === 'initialLoad' ? '0 ours' : undefined, check: phase === 'initialLoad' ? { pass: p.ours.throttled === 0 } : undefined },
    );
  }
  return rows;
}

// drift (bench/drift.ts): RU and requests are the emulator's meter; "product" is the check's own account.
function driftRows(d: DriftBenchResult): Row[] {
  const rows: Row[] = [
    { figure: 'items / lists / page reads', value: d.items, unit: `in ${d.lists} lists, ${d.pages} pages of ≤ ${d.pageSize}` },
  ];
  const check = (name: string, f: DriftBenchResult['quick'], ruTarget: number, targetText: string) => {
    rows.push(
      { figure: `${name}: RU charged`, value: f.ru, target: targetText, check: atMost(f.ru, ruTarget) },
      { figure: `  product ruSpent`, value: f.productRuSpent, target: `= ${fmt(f.ru)} charged`, check: { pass: f.productRuSpent === f.ru } },
      { figure: `  requests (product)`, value: f.requests, unit: `(${fmt(f.productRequests)})`, check: { pass: f.requests === f.productRequests } },
      { figure: `  RU per unchanged item`, value: f.ruPerUnchangedItem, target: '0', check: { pass: f.ruPerUnchangedItem === 0 } },
      { figure: `  items scanned / differences`, value: f.itemsScanned, unit: `/ ${fmt(f.differences)}` },
      { figure: `  seconds (wall)`, value: f.seconds, unit: `s (${fmt(f.wallSeconds)} s)` },
    );
  };
  check('quick', d.quick, 2 * d.pages, `≤ 2 × ${d.pages} pages`);
  check('deep', d.deep, 2 * d.pages, `≤ 2 × ${d.pages} pages`);
  check('watch, no changes', d.watch, d.lists, `${d.lists} (1 / list)`);
  check('watch after 410', d.watchFallback, 2 * d.pages + 2 * d.lists, `≤ 2 × ${d.pages} + 2 × ${d.lists}`);
  rows.push({ figure: 'budget', value: d.budgetRuPerMinute, unit: 'RU/min' }, { figure: 'latency', value: d.latencyMs, unit: `ms + ≤ ${d.latencyJitterMs} jitter` });
  return rows;
}

// ---- main ---------------------------------------------------------------------------------------

interface StateFigures {
  [store: string]: { lookupMsPer1000: number; upsertMsPer1000: number };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const result: Record<string, unknown> = { commit: gitCommit(), at: new Date().toISOString() };
  const dirty = gitDirty();
  if (dirty !== null) result.dirty = dirty;
  result.quick = args.quick;
  const environment: Record<string, unknown> = { node: process.version, cpus: os.cpus().length, loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 10) / 10) };
  result.environment = environment;
  const durations: Record<string, number> = {};
  const errors: Record<string, string> = {};
  const tables: Array<[string, Row[]]> = [];

  let azurite: AzuriteHandle | undefined;
  let pg: PostgresHandle | undefined;
  const needPg = args.only.includes('state') || args.only.includes('pipeline') || args.only.includes('scaleOut') || args.only.includes('baseline') || args.only.includes('drift') || args.only.includes('scale');
  try {
    if (needPg) {
      pg = await startPostgres({ preferUrl: process.env.BENCH_PG_URL });
      log(`PostgreSQL: ${pg.kind}`);
      environment.postgres = pg.kind;
    }

    if (args.only.includes('graph')) {
      const t = Date.now();
      const items = args.quick ? 4_000 : 20_000;
      log(`graph: ${items} creates through the adapter into the emulator…`);
      try {
        const g = await benchGraph({ items, log });
        result.graph = g;
        tables.push(['graph (DESIGN §12 graph)', graphRows(g)]);
      } catch (error) {
        errors.graph = error instanceof Error ? error.message : String(error);
        log(`graph failed: ${errors.graph}`);
      }
      durations.graph = Math.round((Date.now() - t) / 100) / 10;
    }

    if (args.only.includes('state')) {
      const t = Date.now();
      log('state: ledger lookups and upserts per store…');
      try {
        azurite = await startAzurite();
        const s: StateFigures = await benchState({ storageConnection: azurite.connectionString, pgUrl: pg!.url });
        result.state = s;
        tables.push([`state (Azurite, PostgreSQL ${pg!.kind})`, stateRows(s)]);
      } catch (error) {
        errors.state = error instanceof Error ? error.message : String(error);
        log(`state failed: ${errors.state}`);
      } finally {
        await azurite?.stop();
        azurite = undefined;
      }
      durations.state = Math.round((Date.now() - t) / 100) / 10;
    }

    if (args.only.includes('pipeline')) {
      const t = Date.now();
      log('pipeline: initial load, idle run and update phase on the local host stack…');
      const p = await benchPipeline({
        pgUrl: pg!.url,
        initialRows: args.quick ? 4_000 : 20_000,
        idleRows: args.quick ? 20_000 : Number(process.env.BENCH_IDLE_ROWS ?? 200_000),
        parts: process.env.BENCH_PIPELINE_PARTS ? (process.env.BENCH_PIPELINE_PARTS.split(',') as Array<'initialLoad' | 'idleRun' | 'update'>) : undefined,
        updateRows: args.quick ? 1_000 : 4_000,
        updatedRows: args.quick ? 500 : 2_000,
        stateStore: args.pipelineState,
        log,
      });
      const { errors: pipelineErrors, ...figures } = p;
      for (const [k, v] of Object.entries(pipelineErrors ?? {})) errors[`pipeline.${k}`] = v;
      if (Object.keys(figures).length) {
        result.pipeline = figures;
        tables.push([`pipeline (local host stack: state store ${args.pipelineState === 'postgres' ? 'PostgreSQL' : 'Table Storage (Azurite)'}, Azurite queues, PostgreSQL source, Graph emulator; DESIGN §12 pipeline)`, pipelineRows(p)]);
      }
      durations.pipeline = Math.round((Date.now() - t) / 100) / 10;
    }

    if (args.only.includes('scaleOut')) {
      const t = Date.now();
      const items = args.quick ? 4_000 : 20_000;
      log(`scaleOut: ${items} creates of one tenant by 4 worker processes sharing the budget…`);
      try {
        const so = await benchScaleOut({ pgUrl: pg!.url, items, log });
        result.scaleOut = so;
        tables.push([`scaleOut (4 processes, one tenant, budget shares in PostgreSQL ${pg!.kind})`, scaleOutRows(so)]);
      } catch (error) {
        errors.scaleOut = error instanceof Error ? error.message : String(error);
        log(`scaleOut failed: ${errors.scaleOut}`);
      }
      durations.scaleOut = Math.round((Date.now() - t) / 100) / 10;
    }

    if (args.only.includes('baseline')) {
      const t = Date.now();
      log('baseline: the full-compare approach turn by turn with ours…');
      const b = await benchBaseline({
        pgUrl: pg!.url,
        stateStore: args.pipelineState,
        rows: args.quick ? 2_000 : Number(process.env.BENCH_BASELINE_ROWS ?? 20_000),
        bigRows: args.quick ? 0 : Number(process.env.BENCH_BASELINE_BIG_ROWS ?? 200_000),
        log,
      });
      const { errors: baselineErrors, ...figures } = b;
      for (const [k, v] of Object.entries(baselineErrors ?? {})) errors[`baseline.${k}`] = v;
      if (Object.keys(figures.phases).length) {
        result.baseline = { ...figures.phases, budgetRuPerMinute: figures.budgetRuPerMinute, bigBudgetRuPerMinute: figures.bigBudgetRuPerMinute, latencyMs: figures.latencyMs, latencyJitterMs: figures.latencyJitterMs, theirConcurrency: figures.theirConcurrency };
        tables.push([`baseline (full compare over fetch vs ours, ${figures.budgetRuPerMinute} RU/min, 200k pair at ${figures.bigBudgetRuPerMinute}; ${figures.latencyMs} + ${figures.latencyJitterMs} ms)`, baselineRows(figures)]);
      }
      durations.baseline = Math.round((Date.now() - t) / 100) / 10;
    }

    if (args.only.includes('drift')) {
      const t = Date.now();
      const items = args.quick ? 4_000 : 20_000;
      log(`drift: quick, deep and watch checks of ${items} items in 4 lists…`);
      try {
        const d = await benchDrift({ pgUrl: pg!.url, items, log });
        result.drift = d;
        tables.push([`drift (${d.items} items in ${d.lists} lists in step with the ledger; ${d.budgetRuPerMinute} RU/min, ${d.latencyMs} + ${d.latencyJitterMs} ms; RU from the emulator's meter)`, driftRows(d)]);
      } catch (error) {
        errors.drift = error instanceof Error ? error.message : String(error);
        log(`drift failed: ${errors.drift}`);
      }
      durations.drift = Math.round((Date.now() - t) / 100) / 10;
    }

    if (args.only.includes('scale')) {
      const t = Date.now();
      const override = process.env.BENCH_SCALE_ROWS?.split(',').map((n) => Number(n.trim()));
      const sizes: [number, number] = override?.length === 2 && override.every((n) => Number.isInteger(n) && n > 0) ? [override[0]!, override[1]!] : args.quick ? [10_000, 100_000] : [100_000, 1_000_000];
      log(`scale: peak RSS of a planning process at ${sizes.join(' and ')} rows (dry run and real run)…`);
      try {
        const modes = process.env.BENCH_SCALE_MODES ? (process.env.BENCH_SCALE_MODES.split(',') as Array<'dryRun' | 'real'>) : undefined;
        const s = await benchScale({ pgUrl: pg!.url, sizes, modes, liveEvery: process.env.BENCH_SCALE_LIVE_EVERY ? Number(process.env.BENCH_SCALE_LIVE_EVERY) : undefined, log });
        const { errors: scaleErrors, ...figures } = s;
        for (const [k, v] of Object.entries(scaleErrors ?? {})) errors[`scale.${k}`] = v;
        if ('rssRatio' in figures) {
          result.scale = figures;
          tables.push([`scale (planning process RSS; ${sizes[0]} vs ${sizes[1]} rows; emulator ${figures.emulatorBudgetRuPerMinute} RU/min, limiter ${figures.limiterBudgetRuPerMinute} RU/min)`, scaleRows(figures as ScaleBenchResult)]);
        }
      } catch (error) {
        errors.scale = error instanceof Error ? error.message : String(error);
        log(`scale failed: ${errors.scale}`);
      }
      durations.scale = Math.round((Date.now() - t) / 100) / 10;
    }
  } finally {
    await azurite?.stop().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
  }

  result.durationsSeconds = durations;
  environment.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 10) / 10);
  if (Object.keys(errors).length) result.errors = errors;

  for (const [title, rows] of tables) printTable(title, rows);
  console.log(`\ndurations (s): ${Object.entries(durations).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (Object.keys(errors).length) {
    console.log('\nfailed parts (left out of the JSON):');
    for (const [k, v] of Object.entries(errors)) console.log(`  ${k}: ${v}`);
  }

  mkdirSync(path.dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${args.out}${args.quick ? ' (--quick: smaller sizes, not comparable with full runs)' : ''}`);
  process.exitCode = Object.keys(errors).length ? 1 : 0;
}

/** Stops child processes this process started that are still running (an Azurite whose stack did not stop). */
function stopOwnChildren(): void {
  try {
    const pids = execSync(`ps -o pid= --ppid ${process.pid}`, { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((pid) => pid > 0);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone (the ps itself, for one)
      }
    }
  } catch {
    // no ps: nothing more to do
  }
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error('\ninterrupted: stopping child processes');
  stopOwnChildren();
  process.exit(130);
});

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  })
  .finally(() => {
    // Pools and sockets of the stacks may linger a little; the benchmark is done.
    stopOwnChildren();
    setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
  });
