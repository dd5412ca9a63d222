import { Client } from 'pg';
import { clearTenantLimiters } from '../src/adapters/sharepoint/limiter';
import type { RunRecord } from '../src/core/ports/state';
import { QUEUES } from '../src/core/ports/bus';
import { newRunMessage } from '../src/sync/plan-run';
import type { Stack } from '../test/support/stack';
import { benchStack, createSourceTable } from './pipeline';

/**
 * `baseline` (issue 13, DESIGN §12): the usual alternative to us — the full compare that
 * PowerShell sync scripts and Simego do (read every row, page every list item, diff by key,
 * write `$batch`es of 20, honouring Retry-After) — implemented here over plain fetch, not through
 * our adapter. It runs in the same process, on the same table and emulator settings, turn by
 * turn with ours: for each phase our run first, then theirs, each into its own list(s).
 */

export interface BaselineOptions {
  pgUrl: string;
  stateStore: 'postgres' | 'table';
  rows?: number;
  /** Rows of the idle / 1 %-change pair at a raised budget (0 = leave the pair out). */
  bigRows?: number;
  budgetRuPerMinute?: number;
  bigBudgetRuPerMinute?: number;
  latencyMs?: { fixed: number; jitter: number };
  /** `$batch` envelopes theirs keeps in flight. */
  theirConcurrency?: number;
  log?: (line: string) => void;
}

export interface TurnFigures {
  ru: number;
  requests: number;
  throttled: number;
  wallSeconds: number;
}

export interface PhaseResult {
  rows: number;
  ours: TurnFigures;
  theirs: TurnFigures;
  wallRatio: number;
  /** null when both spent nothing. */
  ruRatio: number | null;
}

export type BaselinePhase = 'initialLoad' | 'idle' | 'update' | 'delete' | 'idle200k' | 'update200k';

export interface BaselineResult {
  phases: Partial<Record<BaselinePhase, PhaseResult>>;
  budgetRuPerMinute: number;
  bigBudgetRuPerMinute: number;
  latencyMs: number;
  latencyJitterMs: number;
  theirConcurrency: number;
  errors?: Record<string, string>;
}

const TOKEN = 'test-token';
const round = (n: number, digits = 3) => Number(n.toFixed(digits));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- theirs: the full compare over fetch ---------------------------------------------------------

interface SourceRow {
  id: number;
  customer: string;
  amount: string;
  quantity: number;
  ordered_at: Date;
  paid: boolean;
}

type Fields = Record<string, string | number | boolean>;

interface InnerRequest {
  id: string;
  method: 'POST' | 'PATCH' | 'DELETE';
  url: string;
  body?: Fields;
  headers?: Record<string, string>;
}

const desiredFields = (r: SourceRow): Fields => ({
  Title: r.customer,
  SyncKey: String(r.id),
  amount: Number(r.amount),
  quantity: r.quantity,
  ordered_at: r.ordered_at.toISOString(),
  paid: r.paid,
});

function sameFields(want: Fields, have: Record<string, unknown>): boolean {
  for (const [name, value] of Object.entries(want)) {
    const got = have[name];
    if (name === 'ordered_at') {
      if (typeof got !== 'string' || Date.parse(got) !== Date.parse(value as string)) return false;
    } else if (got !== value) return false;
  }
  return true;
}

class FullCompareClient {
  constructor(
    private readonly baseUrl: string,
    private readonly siteId: string,
  ) {}

  private async call(method: string, url: string, body?: unknown): Promise<{ status: number; headers: Headers; json: any }> {
    for (;;) {
      const res = await fetch(url.startsWith('http') ? url : `${this.baseUrl}${url}`, {
        method,
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status === 429 || res.status === 503) {
        await sleep(Number(res.headers.get('Retry-After') ?? '1') * 1000);
        continue;
      }
      if (res.status >= 400) throw new Error(`${method} ${url}: ${res.status} ${text.slice(0, 200)}`);
      return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
    }
  }

  async createList(displayName: string): Promise<string> {
    const res = await this.call('POST', `/sites/${this.siteId}/lists`, {
      displayName,
      list: { template: 'genericList' },
      columns: [{ name: 'SyncKey', text: {} }, { name: 'amount', number: {} }, { name: 'quantity', number: {} }, { name: 'ordered_at', dateTime: {} }, { name: 'paid', boolean: {} }],
    });
    return String(res.json.id);
  }

  async allItems(listId: string): Promise<Array<{ id: string; fields: Record<string, unknown> }>> {
    const out: Array<{ id: string; fields: Record<string, unknown> }> = [];
    let next: string | undefined = `/sites/${this.siteId}/lists/${listId}/items?$expand=fields&$top=5000`;
    while (next) {
      const page = await this.call('GET', next);
      for (const item of page.json.value as Array<{ id: string; fields: Record<string, unknown> }>) out.push({ id: item.id, fields: item.fields });
      next = page.json['@odata.nextLink'] as string | undefined;
    }
    return out;
  }

  /** One `$batch` of ≤ 20, resent for its throttled requests after the longest Retry-After. */
  async batch(requests: InnerRequest[]): Promise<void> {
    let pending = requests;
    while (pending.length > 0) {
      const res = await this.call('POST', '/$batch', { requests: pending });
      const throttled = new Set<string>();
      let waitSeconds = 0;
      for (const r of res.json.responses as Array<{ id: string; status: number; headers?: Record<string, string>; body?: unknown }>) {
        if (r.status === 429 || r.status === 503) {
          throttled.add(r.id);
          waitSeconds = Math.max(waitSeconds, Number(r.headers?.['Retry-After'] ?? r.headers?.['retry-after'] ?? '1'));
        } else if (r.status >= 400) throw new Error(`$batch request ${r.id}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      }
      pending = pending.filter((p) => throttled.has(p.id));
      if (pending.length > 0) await sleep(waitSeconds * 1000);
    }
  }

  /** Read all rows, page all items, diff by key, write the differences in `$batch`es of 20. */
  async sync(pg: Client, table: string, listId: string, concurrency: number): Promise<void> {
    const rows = (await pg.query<SourceRow>(`SELECT id, customer, amount, quantity, ordered_at, paid FROM ${table}`)).rows;
    const items = new Map((await this.allItems(listId)).map((i) => [String(i.fields.SyncKey), i]));
    const writes: InnerRequest[] = [];
    const itemsUrl = `/sites/${this.siteId}/lists/${listId}/items`;
    for (const row of rows) {
      const want = desiredFields(row);
      const have = items.get(want.SyncKey as string);
      items.delete(want.SyncKey as string);
      if (!have) writes.push({ id: String(writes.length), method: 'POST', url: itemsUrl, body: { fields: want } as never, headers: { 'Content-Type': 'application/json' } });
      else if (!sameFields(want, have.fields)) writes.push({ id: String(writes.length), method: 'PATCH', url: `${itemsUrl}/${have.id}/fields`, body: want, headers: { 'Content-Type': 'application/json' } });
    }
    for (const gone of items.values()) writes.push({ id: String(writes.length), method: 'DELETE', url: `${itemsUrl}/${gone.id}` });
    const batches: InnerRequest[][] = [];
    for (let i = 0; i < writes.length; i += 20) batches.push(writes.slice(i, i + 20));
    let nextBatch = 0;
    const worker = async () => {
      while (nextBatch < batches.length) await this.batch(batches[nextBatch++]!);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
  }
}

// ---- ours: a run through the local host stack ----------------------------------------------------

/** Trigger → final status of the run and its continuations, then waits for the stack to go quiet (not timed). */
async function ourRun(stack: Stack, definitionId: string): Promise<{ run: RunRecord; seconds: number }> {
  const message = newRunMessage(definitionId, 'incremental', 'manual', new Date());
  const sentAt = Date.now();
  await stack.services.bus().send(QUEUES.runs, [{ body: message, messageId: message.runId, sessionId: definitionId }]);
  for (;;) {
    const run = await stack.state.getRun(message.runId);
    if (run?.finishedAt) {
      const active = (await stack.state.listRuns(definitionId, { limit: 5 })).items.some((r) => !r.finishedAt);
      if (!active) {
        const lastFinish = Math.max(...(await stack.state.listRuns(definitionId, { limit: 50 })).items.filter((r) => Date.parse(r.startedAt) >= sentAt - 1000).map((r) => Date.parse(r.finishedAt!)));
        await stack.waitForQuiet(60_000);
        return { run, seconds: (lastFinish - sentAt) / 1000 };
      }
    }
    if (Date.now() - sentAt > 30 * 60_000) throw new Error(`run ${message.runId} did not finish in 30 minutes`);
    await sleep(20);
  }
}

async function measure(stack: Stack, work: () => Promise<number>): Promise<TurnFigures> {
  stack.emulator.state.resetMetrics();
  const seconds = await work();
  const m = stack.emulator.state.metrics();
  return { ru: m.ru.total, requests: m.requests, throttled: m.throttled, wallSeconds: round(seconds, 2) };
}

const phaseOf = (rows: number, ours: TurnFigures, theirs: TurnFigures): PhaseResult => ({
  rows,
  ours,
  theirs,
  wallRatio: round(ours.wallSeconds / theirs.wallSeconds),
  ruRatio: theirs.ru === 0 ? (ours.ru === 0 ? null : Infinity) : round(ours.ru / theirs.ru),
});

async function timed(work: () => Promise<void>): Promise<number> {
  const started = Date.now();
  await work();
  return (Date.now() - started) / 1000;
}

interface Section {
  stack: Stack;
  pg: Client;
  table: string;
  theirs: FullCompareClient;
  theirList: string;
  stop(): Promise<void>;
}

async function openSection(opts: Required<Omit<BaselineOptions, 'log'>>, rows: number, budget: number, definitionId: string): Promise<Section> {
  clearTenantLimiters();
  const handle = await benchStack(opts, budget, { GRAPH_BUDGET_RU_PER_MINUTE: String(budget), GRAPH_MAX_CONCURRENCY: '8' });
  const stack = handle.stack;
  const table = await createSourceTable(stack, rows);
  // The table was loaded a while before its first sync, as tables are, not within the cursor's
  // 5 s look-back: rows stamped inside the look-back before a pass's read time are re-read once
  // by the next run (they might not have been visible), which would turn the first idle run
  // after a load into a one-off full re-read. BENCH_BASELINE_FRESH_ROWS=1 keeps them fresh.
  if (!process.env.BENCH_BASELINE_FRESH_ROWS) await stack.pg.query(`UPDATE ${table} SET updated_at = updated_at - interval '1 hour'`);
  await stack.addDefinition({
    id: definitionId,
    table: { schema: stack.schema, name: 'orders' },
    title: 'customer',
    fields: [{ source: 'amount' }, { source: 'quantity' }, { source: 'ordered_at' }, { source: 'paid' }],
    cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 5 },
    sharding: { strategy: 'hash', buckets: 4, listTemplate: `${definitionId} {n}` },
    deletes: { mode: 'reconcile', everyRuns: 1 },
    maxRowsPerRun: Math.min(1_000_000, Math.max(50_000, rows * 2)),
  });
  const pg = new Client({ connectionString: opts.pgUrl });
  await pg.connect();
  const theirs = new FullCompareClient(stack.emulator.url, stack.emulator.state.defaultSiteId);
  const theirList = await theirs.createList(`${definitionId} theirs`);
  return {
    stack,
    pg,
    table,
    theirs,
    theirList,
    async stop() {
      await pg.end().catch(() => undefined);
      await handle.stop();
      clearTenantLimiters();
    },
  };
}

/** Changes 1 % of rows (mapped content and cursor). */
const updateShare = (s: Section, share: number) => s.pg.query(`UPDATE ${s.table} SET amount = amount + 1, updated_at = clock_timestamp() WHERE id % ${Math.round(1 / share)} = 1`);

export async function benchBaseline(options: BaselineOptions): Promise<BaselineResult> {
  const log = options.log ?? (() => undefined);
  const opts = {
    pgUrl: options.pgUrl,
    stateStore: options.stateStore,
    rows: options.rows ?? 20_000,
    bigRows: options.bigRows ?? 200_000,
    budgetRuPerMinute: options.budgetRuPerMinute ?? 30_000,
    bigBudgetRuPerMinute: options.bigBudgetRuPerMinute ?? 600_000,
    latencyMs: options.latencyMs ?? { fixed: 20, jitter: 10 },
    theirConcurrency: options.theirConcurrency ?? 4,
  };
  const result: BaselineResult = {
    phases: {},
    budgetRuPerMinute: opts.budgetRuPerMinute,
    bigBudgetRuPerMinute: opts.bigBudgetRuPerMinute,
    latencyMs: opts.latencyMs.fixed,
    latencyJitterMs: opts.latencyMs.jitter,
    theirConcurrency: opts.theirConcurrency,
  };
  const errors: Record<string, string> = {};
  // The stack takes its PostgreSQL from TEST_PG_URL.
  process.env.TEST_PG_URL = opts.pgUrl;

  const turn = async (s: Section, phase: BaselinePhase, rows: number, definitionId: string) => {
    const ours = await measure(s.stack, async () => (await ourRun(s.stack, definitionId)).seconds);
    if (phase === 'initialLoad') {
      // theirs must start with the budget window as empty as ours did
      log('  baseline: waiting 61 s for the budget window to clear');
      await sleep(61_000);
    }
    const theirs = await measure(s.stack, () => timed(() => s.theirs.sync(s.pg, s.table, s.theirList, opts.theirConcurrency)));
    result.phases[phase] = phaseOf(rows, ours, theirs);
    if (theirs.ru + ours.ru > opts.budgetRuPerMinute / 10 && phase === 'initialLoad') {
      log('  baseline: waiting 61 s for the budget window to clear');
      await sleep(61_000);
      clearTenantLimiters();
    }
    log(`  baseline ${phase}: ours ${ours.wallSeconds} s / ${ours.ru} RU, theirs ${theirs.wallSeconds} s / ${theirs.ru} RU`);
  };

  // 20,000 rows: initial load, idle, 1 % updated, 0.5 % deleted (0 rows leaves them out)
  let s: Section | undefined;
  if (opts.rows > 0) {
    try {
      s = await openSection(opts, opts.rows, opts.budgetRuPerMinute, 'base');
      s.stack.emulator.state.configure({ latencyMs: opts.latencyMs });
      await turn(s, 'initialLoad', opts.rows, 'base');
      await turn(s, 'idle', opts.rows, 'base');
      await updateShare(s, 0.01);
      await turn(s, 'update', opts.rows, 'base');
      await s.pg.query(`DELETE FROM ${s.table} WHERE id % 200 = 3`);
      await turn(s, 'delete', opts.rows, 'base');
    } catch (error) {
      errors.small = error instanceof Error ? error.message : String(error);
      log(`  baseline (${opts.rows} rows) failed: ${errors.small}`);
    } finally {
      await s?.stop();
    }
  }

  // 200,000 rows with the lists already loaded, at a raised budget: idle and 1 % updated
  if (opts.bigRows > 0) {
    let big: Section | undefined;
    try {
      big = await openSection(opts, opts.bigRows, opts.bigBudgetRuPerMinute, 'big');
      log(`  baseline: loading ${opts.bigRows} rows into both (setup, not measured)…`);
      big.stack.emulator.state.configure({ budgetRuPerMinute: 50_000_000, latencyMs: { fixed: 0, jitter: 0 } });
      await ourRun(big.stack, 'big');
      const rows = (await big.pg.query<SourceRow>(`SELECT id, customer, amount, quantity, ordered_at, paid FROM ${big.table}`)).rows;
      for (let i = 0; i < rows.length; i += 10_000) big.stack.emulator.state.seedItems(big.theirList, rows.slice(i, i + 10_000).map(desiredFields));
      big.stack.emulator.state.configure({ budgetRuPerMinute: opts.bigBudgetRuPerMinute, latencyMs: opts.latencyMs });
      // the setup's spend must not be in our limiter's window
      clearTenantLimiters();
      await turn(big, 'idle200k', opts.bigRows, 'big');
      await updateShare(big, 0.01);
      await turn(big, 'update200k', opts.bigRows, 'big');
    } catch (error) {
      errors.big = error instanceof Error ? error.message : String(error);
      log(`  baseline (${opts.bigRows} rows) failed: ${errors.big}`);
    } finally {
      await big?.stop();
    }
  }
  if (Object.keys(errors).length) result.errors = errors;
  return result;
}
