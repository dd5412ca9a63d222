import { staticTokenSource } from '../src/adapters/sharepoint/auth';
import { GraphListTarget } from '../src/adapters/sharepoint/graph-list-target';
import { clearTenantLimiters, limiterForTenant } from '../src/adapters/sharepoint/limiter';
import { SYNC_KEY_COLUMN, type WriteOp } from '../src/core/ports/list-target';
import { startGraphEmulator } from '../src/emulator';

/**
 * Graph write throughput (DESIGN §12 `graph`): N creates pushed through the SharePoint adapter
 * (real Graph client, `$batch`, shared tenant limiter) into one list of the in-process emulator.
 *
 * The budget is scaled up from SharePoint's 1,250 RU/min so that 20,000 creates (40,000 RU)
 * take about 85 s instead of 32 minutes; `ruUtilisation` is relative to whatever budget ran,
 * and the output records it. The latency is scaled down by about the same factor from what a
 * `$batch` of 20 creates takes on a real tenant, so the limiter, not the round trip, is what
 * bounds the rate, as it is in production.
 */

export interface GraphBenchOptions {
  items?: number;
  budgetRuPerMinute?: number;
  /** Fixed latency added by the emulator to every HTTP request (plus up to half of it as jitter). */
  latencyMs?: number;
  /** The budget the limiter is configured with (GRAPH_BUDGET_RU_PER_MINUTE); defaults to the emulator's. Set it higher to see the limiter correct a misconfigured budget. */
  limiterBudgetRuPerMinute?: number;
  /** Concurrency cap of the tenant limiter (GRAPH_MAX_CONCURRENCY). */
  maxConcurrency?: number;
  /** Ops per writeItems call, as one write-queue message would carry. */
  opsPerCall?: number;
  /** writeItems calls in flight at once, as concurrent queue handlers would make. */
  parallelCalls?: number;
  log?: (line: string) => void;
}

export interface GraphBenchResult {
  /** RU charged per minute (throttled requests included, as SharePoint counts them) ÷ budget. */
  ruUtilisation: number;
  /** 429 answers ÷ Graph requests. */
  throttledShare: number;
  itemsPerSecond: number;
  /** HTTP round trips per item written ($batch envelopes count one each). */
  requestsPerItem: number;
  /** Graph requests per item as SharePoint counts them (each request inside a $batch is one). */
  graphRequestsPerItem: number;
  budgetRuPerMinute: number;
  latencyMs: number;
  items: number;
  itemsWritten: number;
  seconds: number;
  ruCharged: number;
  throttled: number;
  maxConcurrency: number;
}

export async function benchGraph(opts: GraphBenchOptions = {}): Promise<GraphBenchResult> {
  const items = opts.items ?? 20_000;
  const budget = opts.budgetRuPerMinute ?? 30_000;
  const latencyMs = opts.latencyMs ?? 50;
  const maxConcurrency = opts.maxConcurrency ?? 4;
  const opsPerCall = opts.opsPerCall ?? 500;
  const parallelCalls = opts.parallelCalls ?? 4;
  const log = opts.log ?? (() => {});

  const emulator = await startGraphEmulator({ port: 0, budgetRuPerMinute: budget, latencyMs: { fixed: latencyMs, jitter: latencyMs / 2 } });
  try {
    clearTenantLimiters();
    const limiter = limiterForTenant('bench-tenant', { budgetRuPerMinute: opts.limiterBudgetRuPerMinute ?? budget, maxConcurrency });
    const target = new GraphListTarget({ baseUrl: emulator.url, tokens: staticTokenSource('bench-token'), limiter });
    const siteId = emulator.state.defaultSiteId;
    const { list } = await target.ensureList(siteId, {
      displayName: 'Bench',
      columns: [
        { name: 'Title', type: 'text' },
        { name: 'Amount', type: 'number', decimalPlaces: 2 },
        { name: 'Placed', type: 'dateTime' },
      ],
    });
    const listId = list!.id;

    const ops: WriteOp[] = Array.from({ length: items }, (_, i) => ({
      opId: String(i),
      kind: 'create',
      fields: {
        [SYNC_KEY_COLUMN]: i.toString(16).padStart(64, '0'),
        Title: `Order ${i}`,
        Amount: (i % 10_000) / 100,
        Placed: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
      },
    }));
    const calls: WriteOp[][] = [];
    for (let i = 0; i < ops.length; i += opsPerCall) calls.push(ops.slice(i, i + opsPerCall));

    // Provisioning (a few RU) is not part of the measurement.
    emulator.state.resetMetrics();

    const started = Date.now();
    let written = 0;
    let next = 0;
    const progress = setInterval(() => log(`  ${written} / ${items} items, ${Math.round((Date.now() - started) / 1000)} s`), 10_000);
    const worker = async () => {
      for (let c = next++; c < calls.length; c = next++) {
        const results = await target.writeItems(siteId, listId, calls[c]!);
        written += results.filter((r) => r.ok).length;
      }
    };
    try {
      await Promise.all(Array.from({ length: parallelCalls }, worker));
    } finally {
      clearInterval(progress);
    }
    const seconds = (Date.now() - started) / 1000;

    const m = emulator.state.metrics();
    const itemCount = emulator.state.lists().find((l) => l.id === listId)?.itemCount ?? 0;
    if (itemCount !== items || written !== items) {
      throw new Error(`benchmark wrote ${written} of ${items} items; the list holds ${itemCount}`);
    }
    const round = (n: number, digits = 3) => Number(n.toFixed(digits));
    return {
      ruUtilisation: round(m.ru.total / (seconds / 60) / budget),
      throttledShare: round(m.requests === 0 ? 0 : m.throttled / m.requests, 4),
      itemsPerSecond: round(items / seconds, 1),
      requestsPerItem: round(m.httpRequests / items, 4),
      graphRequestsPerItem: round(m.requests / items, 4),
      budgetRuPerMinute: budget,
      latencyMs,
      items,
      itemsWritten: written,
      seconds: round(seconds, 1),
      ruCharged: m.ru.total,
      throttled: m.throttled,
      maxConcurrency,
    };
  } finally {
    clearTenantLimiters();
    await emulator.close();
  }
}

if (require.main === module) {
  const items = Number(process.env.BENCH_GRAPH_ITEMS ?? 20_000);
  console.log(`graph: pushing ${items} creates through the adapter into the emulator…`);
  benchGraph({ items, log: (line) => console.log(line) })
    .then((r) => {
      console.table({
        'RU utilisation': r.ruUtilisation,
        'throttled share': r.throttledShare,
        'items / s': r.itemsPerSecond,
        'HTTP requests / item': r.requestsPerItem,
        'Graph requests / item': r.graphRequestsPerItem,
        'budget RU/min': r.budgetRuPerMinute,
        'latency ms': r.latencyMs,
        seconds: r.seconds,
      });
      console.log(JSON.stringify({ graph: r }, null, 2));
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
