import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { staticTokenSource } from '../src/adapters/sharepoint/auth';
import { LeasedBudgetShares } from '../src/adapters/sharepoint/budget-shares';
import { GraphListTarget } from '../src/adapters/sharepoint/graph-list-target';
import { TenantLimiter } from '../src/adapters/sharepoint/limiter';
import { PostgresStateStore } from '../src/adapters/state/sql-store';
import { SYNC_KEY_COLUMN, type WriteOp } from '../src/core/ports/list-target';
import { startGraphEmulator } from '../src/emulator';

/**
 * One tenant's writes consumed by several worker processes (DESIGN §12 `scaleOut`): each worker
 * is its own Node process with its own limiter, as Azure instances are; they share the tenant
 * budget only through budget shares leased in one PostgreSQL state store. The parent plays the
 * write queue (hands out chunks of ops as messages) and runs the emulator all workers write to.
 *
 * `ruUtilisation` = RU the emulator charged per minute ÷ its budget, over the time from the first
 * write to the last answer; `throttledShare` = 429 answers ÷ Graph requests.
 */

export interface ScaleOutBenchOptions {
  pgUrl: string;
  workers?: number;
  items?: number;
  budgetRuPerMinute?: number;
  latencyMs?: number;
  opsPerMessage?: number;
  /** Messages each worker handles at once (concurrent queue handlers). */
  handlersPerWorker?: number;
  maxConcurrency?: number;
  shares?: number;
  log?: (line: string) => void;
}

export interface ScaleOutBenchResult {
  workers: number;
  ruUtilisation: number;
  throttledShare: number;
  items: number;
  seconds: number;
  ruCharged: number;
  requests: number;
  throttled: number;
  budgetRuPerMinute: number;
  latencyMs: number;
  budgetShares: number;
  maxConcurrencyPerWorker: number;
}

/** Parent → worker. */
type ToWorker = { type: 'start'; config: WorkerConfig } | { type: 'go' } | { type: 'message'; ops: WriteOp[] } | { type: 'empty' };
/** Worker → parent. */
type FromWorker = { type: 'next' } | { type: 'written'; ok: number; failed: number } | { type: 'ready' } | { type: 'failed'; error: string };

interface WorkerConfig {
  emulatorUrl: string;
  siteId: string;
  listId: string;
  pgUrl: string;
  schema: string;
  budgetRuPerMinute: number;
  maxConcurrency: number;
  shares: number;
  handlers: number;
}

export async function benchScaleOut(opts: ScaleOutBenchOptions): Promise<ScaleOutBenchResult> {
  const workers = opts.workers ?? 4;
  const items = opts.items ?? 20_000;
  const budget = opts.budgetRuPerMinute ?? 30_000;
  const latencyMs = opts.latencyMs ?? 50;
  const opsPerMessage = opts.opsPerMessage ?? 500;
  const maxConcurrency = opts.maxConcurrency ?? 4;
  const shares = opts.shares ?? 8;
  const log = opts.log ?? (() => {});

  const schema = `bench_scale_${randomBytes(3).toString('hex')}`;
  const store = new PostgresStateStore({ url: opts.pgUrl, schema, poolMax: 2 });
  await store.init();
  const emulator = await startGraphEmulator({ port: 0, budgetRuPerMinute: budget, latencyMs: { fixed: latencyMs, jitter: latencyMs / 2 } });
  const children: ChildProcess[] = [];
  try {
    const setupLimiter = new TenantLimiter({ budgetRuPerMinute: budget, maxConcurrency });
    const setup = new GraphListTarget({ baseUrl: emulator.url, tokens: staticTokenSource('bench-token'), limiter: setupLimiter });
    const siteId = emulator.state.defaultSiteId;
    const { list } = await setup.ensureList(siteId, { displayName: 'ScaleOut', columns: [{ name: 'Title', type: 'text' }] });
    const listId = list!.id;
    // Let provisioning's charges leave the window: the workers start with the whole budget, as a run after an idle minute does.
    emulator.state.resetMetrics();

    const messages: WriteOp[][] = [];
    for (let i = 0; i < items; i += opsPerMessage) {
      messages.push(
        Array.from({ length: Math.min(opsPerMessage, items - i) }, (_, k) => ({
          opId: String(i + k),
          kind: 'create' as const,
          fields: { [SYNC_KEY_COLUMN]: (i + k).toString(16).padStart(64, '0'), Title: `Order ${i + k}` },
        })),
      );
    }
    const config: WorkerConfig = { emulatorUrl: emulator.url, siteId, listId, pgUrl: opts.pgUrl, schema, budgetRuPerMinute: budget, maxConcurrency, shares, handlers: opts.handlersPerWorker ?? 2 };

    let written = 0;
    let failed = 0;
    let started = 0;
    let finished = 0;
    await new Promise<void>((resolve, reject) => {
      let ready = 0;
      for (let w = 0; w < workers; w++) {
        const child = fork(__filename, ['--worker'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        children.push(child);
        child.on('exit', (code) => {
          if (code !== 0 && finished === 0) reject(new Error(`worker ${w} exited with ${code}`));
        });
        child.on('message', (m: FromWorker) => {
          if (m.type === 'ready') {
            // Every worker is up before the clock starts, so process start-up is not measured.
            if (++ready === workers) {
              started = Date.now();
              for (const c of children) c.send({ type: 'go' } satisfies ToWorker);
            }
          } else if (m.type === 'next') {
            const next = messages.shift();
            child.send((next ? { type: 'message', ops: next } : { type: 'empty' }) satisfies ToWorker);
          } else if (m.type === 'written') {
            written += m.ok;
            failed += m.failed;
            if (written + failed >= items && finished === 0) {
              finished = Date.now();
              resolve();
            }
          } else if (m.type === 'failed') reject(new Error(`worker ${w}: ${m.error}`));
        });
        child.send({ type: 'start', config } satisfies ToWorker);
      }
      const progress = setInterval(() => log(`  ${written} / ${items} items, ${started ? Math.round((Date.now() - started) / 1000) : 0} s`), 10_000);
      progress.unref();
    });
    const seconds = (finished - started) / 1000;
    if (failed > 0) throw new Error(`${failed} of ${items} writes failed`);
    const m = emulator.state.metrics();
    const round = (n: number, digits = 3) => Number(n.toFixed(digits));
    return {
      workers,
      ruUtilisation: round(m.ru.total / (seconds / 60) / budget),
      throttledShare: round(m.requests === 0 ? 0 : m.throttled / m.requests, 4),
      items,
      seconds: round(seconds, 1),
      ruCharged: m.ru.total,
      requests: m.requests,
      throttled: m.throttled,
      budgetRuPerMinute: budget,
      latencyMs,
      budgetShares: shares,
      maxConcurrencyPerWorker: maxConcurrency,
    };
  } finally {
    for (const child of children) child.kill();
    await emulator.close();
    await store.dropSchema().catch(() => undefined);
    await store.close();
  }
}

/**
 * A worker: its own state store connection, budget shares and limiter; `handlers` loops that each
 * ask for a message, write it, and ask again, until the queue is empty.
 */
async function runWorker(config: WorkerConfig): Promise<void> {
  const send = (m: FromWorker) => process.send!(m);
  const store = new PostgresStateStore({ url: config.pgUrl, schema: config.schema, poolMax: 2 });
  const tenantId = 'bench-tenant';
  const sharedBudget = new LeasedBudgetShares({ leases: store, tenantId, budgetRuPerMinute: config.budgetRuPerMinute, shares: config.shares });
  const limiter = new TenantLimiter({ budgetRuPerMinute: config.budgetRuPerMinute, maxConcurrency: config.maxConcurrency, sharedBudget });
  const target = new GraphListTarget({ baseUrl: config.emulatorUrl, tokens: staticTokenSource('bench-token'), limiter });

  const waiting: Array<(m: ToWorker) => void> = [];
  process.on('message', (m: ToWorker) => waiting.shift()?.(m));
  const receive = () => new Promise<ToWorker>((resolve) => waiting.push(resolve));

  const go = receive();
  send({ type: 'ready' });
  await go; // every worker is up
  const handler = async () => {
    for (;;) {
      const reply = receive();
      send({ type: 'next' });
      const m = await reply;
      if (m.type !== 'message') return;
      const results = await target.writeItems(config.siteId, config.listId, m.ops);
      const ok = results.filter((r) => r.ok).length;
      send({ type: 'written', ok, failed: results.length - ok });
    }
  };
  await Promise.all(Array.from({ length: config.handlers }, handler));
  await sharedBudget.close();
  await store.close();
}

if (process.argv.includes('--worker')) {
  process.once('message', (m: ToWorker) => {
    if (m.type !== 'start') return;
    runWorker(m.config)
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        process.send!({ type: 'failed', error: error instanceof Error ? error.message : String(error) } satisfies FromWorker);
        process.exit(1);
      });
  });
}
