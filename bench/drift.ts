import { randomUUID } from 'node:crypto';
import { clearTenantLimiters } from '../src/adapters/sharepoint/limiter';
import type { Logger } from '../src/core/ports/logger';
import { requestDriftCheck, summaryOf, type DriftMode } from '../src/sync/drift';
import { handleDriftWatch } from '../src/sync/drift/watch';
import { seedInStep } from '../test/support/drift-seed';
import type { Stack } from '../test/support/stack';
import { benchStack } from './pipeline';

/**
 * Drift (DESIGN §12 `drift`): a quick and a deep check of N items in 4 hash-sharded lists that
 * are in step with the ledger, then the watch: once after every delta token expired (410: the
 * fallback quick check) and once with no changes.
 *
 * RU and requests are the emulator's own meter (what SharePoint would charge), reset before each
 * check, with the product's own account of its spend (`ruSpent`, `requests`, from the report or
 * the watch's log line) beside them. The product never reads the emulator's meter.
 *
 * The lists are filled through the emulator's store (`seedInStep`: items and ledger in step, no
 * Graph writes), so the part measures the checks, not a 40,000-RU initial load.
 */

export interface DriftBenchOptions {
  pgUrl: string;
  items: number;
  budgetRuPerMinute?: number;
  latencyMs?: { fixed: number; jitter: number };
  log?: (line: string) => void;
}

export interface CheckFigures {
  /** RU the emulator charged while the check ran. */
  ru: number;
  /** HTTP requests the emulator answered (a `$batch` envelope counts one). */
  requests: number;
  /** The product's own account: what the report (or the watch's log line) says it spent. */
  productRuSpent: number;
  productRequests: number;
  /** RU beyond the fixed cost (2 per page read; for the fallback also the refused delta and token=latest per list), per item scanned (target 0). */
  ruPerUnchangedItem: number;
  itemsScanned: number;
  differences: number;
  /** The check itself (report startedAt → finishedAt; for the watch, the handler call). */
  seconds: number;
  /** From sending the check until the queues are quiet (queue pickup included). */
  wallSeconds: number;
}

export interface DriftBenchResult {
  items: number;
  lists: number;
  /** Page reads a full pass needs: ⌈items in each list ÷ 999⌉, summed. */
  pages: number;
  pageSize: number;
  quick: CheckFigures;
  deep: CheckFigures;
  /** The watch with no changes since its tokens (target 1 RU per list). */
  watch: CheckFigures;
  /** The watch right after every token expired: per list the refused delta, token=latest, then the pages. */
  watchFallback: CheckFigures;
  budgetRuPerMinute: number;
  latencyMs: number;
  latencyJitterMs: number;
}

const PAGE = 999;
const LISTS = 4;
const definitionId = 'bench-drift';

async function createTable(stack: Stack, from: number, to: number): Promise<void> {
  const table = `"${stack.schema}".orders`;
  if (from === 1) {
    await stack.pg.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, customer text NOT NULL, amount numeric(10,2) NOT NULL, quantity integer NOT NULL, paid boolean NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  }
  await stack.pg.query(
    `INSERT INTO ${table} (id, customer, amount, quantity, paid)
     SELECT g, 'Customer ' || (g % 5000), ((g % 100000) * 0.37)::numeric(10,2), g % 50, g % 3 = 0 FROM generate_series($1::int, $2::int) g`,
    [from, to],
  );
}

/** A logger that keeps the fields of each line with the given message (the watch reports a quiet check only in its log). */
function capturing(base: Logger, message: string): { log: Logger; last(): Record<string, unknown> | undefined } {
  let last: Record<string, unknown> | undefined;
  const log: Logger = {
    debug: (m, p) => base.debug(m, p),
    info: (m, p) => {
      if (m === message) last = p;
      base.info(m, p);
    },
    warn: (m, p) => base.warn(m, p),
    error: (m, p) => base.error(m, p),
  };
  return { log, last: () => last };
}

export async function benchDrift(opts: DriftBenchOptions): Promise<DriftBenchResult> {
  const budget = opts.budgetRuPerMinute ?? 30_000;
  const latency = opts.latencyMs ?? { fixed: 20, jitter: 10 };
  const log = opts.log ?? (() => {});
  // The stack takes its PostgreSQL from TEST_PG_URL.
  process.env.TEST_PG_URL = opts.pgUrl;
  clearTenantLimiters();
  const handle = await benchStack({ pgUrl: opts.pgUrl, stateStore: 'postgres' }, budget, { GRAPH_BUDGET_RU_PER_MINUTE: String(budget), GRAPH_MAX_CONCURRENCY: '8' });
  const stack = handle.stack;
  try {
    // A first run of a few rows provisions the 4 lists; the rest go in through the emulator's store.
    await createTable(stack, 1, 40);
    await stack.addDefinition({
      id: definitionId,
      table: { schema: stack.schema, name: 'orders' },
      title: 'customer',
      fields: [{ source: 'amount' }, { source: 'quantity' }, { source: 'paid' }],
      cursor: { kind: 'timestamp', column: 'updated_at' },
      sharding: { strategy: 'hash', buckets: LISTS, listTemplate: 'Drift bench {n}' },
      drift: { watch: true },
    });
    const first = await stack.run(definitionId);
    if (first.counts.created !== 40) throw new Error(`the provisioning run created ${first.counts.created} of 40 items`);
    log(`  drift: seeding ${opts.items} items in ${LISTS} lists…`);
    await createTable(stack, 41, opts.items);
    await seedInStep(stack, definitionId);
    const stored = (await stack.state.getDefinition(definitionId))!;
    const listIds = [...new Set(Object.values(stored.lists ?? {}))];
    const perList = listIds.map((id) => stack.emulator.state.items(id).length);
    const items = perList.reduce((a, b) => a + b, 0);
    if (items !== opts.items || listIds.length !== LISTS) throw new Error(`seeded ${items} items in ${listIds.length} lists, wanted ${opts.items} in ${LISTS}`);
    const pages = perList.reduce((n, c) => n + Math.max(1, Math.ceil(c / PAGE)), 0);

    stack.emulator.state.configure({ latencyMs: latency });
    const figures = (fixedRu: number, ru: number, requests: number, product: { ruSpent: number; requests: number }, itemsScanned: number, differences: number, seconds: number, wallSeconds: number): CheckFigures => ({
      ru,
      requests,
      productRuSpent: product.ruSpent,
      productRequests: product.requests,
      ruPerUnchangedItem: itemsScanned ? Math.max(0, ru - fixedRu) / itemsScanned : 0,
      itemsScanned,
      differences,
      seconds,
      wallSeconds,
    });

    const check = async (mode: DriftMode): Promise<CheckFigures> => {
      log(`  drift: ${mode} check…`);
      stack.emulator.state.resetMetrics();
      const t = Date.now();
      const queued = await requestDriftCheck(stack.deps, definitionId, mode);
      await stack.waitForQuiet(300_000);
      const wall = (Date.now() - t) / 1000;
      const m = stack.emulator.state.metrics();
      const record = (await stack.state.getDriftReport(definitionId, queued.reportId))!;
      if (record.status !== 'done') throw new Error(`the ${mode} check ended ${record.status}`);
      const s = summaryOf(record);
      const { itemsScanned, ledgerEntries: _l, ...kinds } = s.counts;
      const seconds = (Date.parse(s.finishedAt!) - Date.parse(s.startedAt!)) / 1000;
      return figures(2 * pages, m.ru.total, m.httpRequests, s, itemsScanned, Object.values(kinds).reduce((a, b) => a + b, 0), seconds, wall);
    };

    const watch = async (what: string, fixedRu: number): Promise<CheckFigures> => {
      log(`  drift: watch (${what})…`);
      const seen = capturing(stack.deps.log, 'drift watch done');
      stack.emulator.state.resetMetrics();
      const t = Date.now();
      // The handler the runs queue calls after a run, called directly so its log line can be read.
      await handleDriftWatch({ ...stack.deps, log: seen.log }, { type: 'driftWatch', definitionId, watchId: randomUUID(), afterRunId: `bench-${randomUUID()}` });
      const seconds = (Date.now() - t) / 1000;
      const m = stack.emulator.state.metrics();
      const done = seen.last();
      if (!done) throw new Error(`the watch (${what}) did not run`);
      const counts = done.counts as Record<string, number>;
      const { itemsScanned, ledgerEntries: _l, ...kinds } = counts;
      return figures(fixedRu, m.ru.total, m.httpRequests, { ruSpent: Number(done.ruSpent), requests: Number(done.requests) }, itemsScanned ?? 0, Object.values(kinds).reduce((a, b) => a + b, 0), seconds, seconds);
    };

    const quick = await check('quick');
    const deep = await check('deep');
    // The seeded items are in every list's change log since the provisioning run's watch: expire
    // the tokens, so the first watch falls back (as after a 410) and the second sees no change.
    stack.emulator.state.expireDeltaTokens();
    const watchFallback = await watch('every token expired', 2 * pages + 2 * listIds.length);
    const quiet = await watch('no changes', listIds.length);
    return { items, lists: listIds.length, pages, pageSize: PAGE, quick, deep, watch: quiet, watchFallback, budgetRuPerMinute: budget, latencyMs: latency.fixed, latencyJitterMs: latency.jitter };
  } finally {
    await handle.stop();
  }
}
