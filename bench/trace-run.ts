/**
 * Where a run's time goes (issue 13): initial load, idle, 1 % updated, 0.5 % deleted and idle
 * again on the bench stack, printing each queue delivery's start and end from the run message's
 * send, and the calls and summed time of every state-store and source method (summed over
 * concurrent calls, so more than the wall time when writers overlap).
 * Not part of `npm run bench`: `ROWS=2000 [AGED=1] [UPDATE_EVERY=100] npx tsx bench/trace-run.ts`.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { clearTenantLimiters } from '../src/adapters/sharepoint/limiter';
import { QUEUES } from '../src/core/ports/bus';
import { GraphListTarget } from '../src/adapters/sharepoint/graph-list-target';
import { LocalHost } from '../src/local/host';
import { newRunMessage } from '../src/sync/plan-run';
import { benchStack, createSourceTable } from './pipeline';

const rows = Number(process.env.ROWS ?? 2000);
const pgUrl = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
process.env.TEST_PG_URL = pgUrl;
let t0 = Date.now();
const events: string[] = [];
const ev = (s: string) => events.push(`${String(Date.now() - t0).padStart(6)} ms  ${s}`);
const acc = new Map<string, { n: number; ms: number }>();
const add = (k: string, ms: number) => {
  const a = acc.get(k) ?? { n: 0, ms: 0 };
  a.n++;
  a.ms += ms;
  acc.set(k, a);
};
function wrap(obj: any, prefix: string) {
  const names = new Set(Object.getOwnPropertyNames(obj));
  for (let p = Object.getPrototypeOf(obj); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) for (const n of Object.getOwnPropertyNames(p)) names.add(n);
  for (const name of names) {
    if (name === 'constructor' || typeof obj[name] !== 'function') continue;
    const orig = obj[name].bind(obj);
    obj[name] = (...args: unknown[]) => {
      const s = performance.now();
      if (process.env.TRACE_CALLS && !['getRun', 'schemaFor', 'run', 'execute', 'rows'].includes(name)) ev(`  ${prefix}.${name}`);
      const r = orig(...args);
      if (r && typeof r.then === 'function') return r.finally(() => add(`${prefix}.${name}`, performance.now() - s));
      if (r && typeof r[Symbol.asyncIterator] === 'function') {
        return (async function* () {
          for await (const x of r) yield x;
          add(`${prefix}.${name}`, performance.now() - s);
        })();
      }
      add(`${prefix}.${name}`, performance.now() - s);
      return r;
    };
  }
}
// Graph item writes, summed like the state store's methods (each call is one message's `$batch`es of 20, sent together).
const writeItems = GraphListTarget.prototype.writeItems;
GraphListTarget.prototype.writeItems = function (...args: Parameters<typeof writeItems>) {
  const s = performance.now();
  return writeItems.apply(this, args).finally(() => add('target.writeItems', performance.now() - s));
};
/** Per function: deliveries, their summed time, the first start and the last end since the run was sent. */
const deliveries = new Map<string, { n: number; ms: number; first: number; last: number }>();
const deliver = (LocalHost.prototype as any).deliver;
(LocalHost.prototype as any).deliver = async function (fn: any, queue: any, poison: any, item: any) {
  const s = Date.now();
  ev(`deliver ${fn.name} start (inserted ${item.insertedOn ? s - item.insertedOn.getTime() : '?'} ms ago)`);
  try {
    return await deliver.call(this, fn, queue, poison, item);
  } finally {
    const e = Date.now();
    ev(`deliver ${fn.name} end (${e - s} ms)`);
    const d = deliveries.get(fn.name) ?? { n: 0, ms: 0, first: s - t0, last: 0 };
    d.n++;
    d.ms += e - s;
    d.last = e - t0;
    deliveries.set(fn.name, d);
  }
};

async function main() {
  clearTenantLimiters();
  const handle = await benchStack({ pgUrl, stateStore: 'postgres' }, 600_000, { GRAPH_BUDGET_RU_PER_MINUTE: '600000', GRAPH_MAX_CONCURRENCY: '8' });
  const stack = handle.stack;
  const table = await createSourceTable(stack, rows);
  // AGED=1: stamped an hour before the first sync, as the baseline bench does (no one-off re-read after the load).
  if (process.env.AGED) await stack.pg.query(`UPDATE ${table} SET updated_at = updated_at - interval '1 hour'`);
  await stack.addDefinition({
    id: 'tr',
    table: { schema: stack.schema, name: 'orders' },
    title: 'customer',
    fields: [{ source: 'amount' }, { source: 'quantity' }, { source: 'ordered_at' }, { source: 'paid' }],
    cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 5 },
    sharding: { strategy: 'hash', buckets: 4, listTemplate: 'tr {n}' },
    deletes: { mode: 'reconcile', everyRuns: 1 },
    maxRowsPerRun: Math.max(50_000, rows * 2),
  });
  stack.emulator.state.configure({ latencyMs: { fixed: 20, jitter: 10 } });
  // The trace's own polling reads the run unwrapped, so state.getRun counts only the product's reads.
  const pollRun = stack.state.getRun.bind(stack.state);
  wrap(stack.state, 'state');
  const sources = new Map<string, any>();
  const origSource = stack.services.source;
  const bus = stack.services.bus();
  stack.rewire({
    bus: () => ({ ...bus, send: async (queue: string, messages: unknown[]) => {
      ev(`send ${queue} ×${messages.length}`);
      await (bus.send as (q: string, m: unknown[]) => Promise<void>)(queue, messages);
      ev(`sent ${queue} ×${messages.length}`);
    } }) as typeof bus,
    source: async (id: string) => {
      let s = sources.get(id);
      if (!s) {
        s = await origSource.call(stack.services, id);
        wrap(s, 'source');
        sources.set(id, s);
      }
      return s;
    },
  });
  // PROFILE_PHASE=update: a CPU profile of this process over that phase only, written to /tmp/trace-<phase>.cpuprofile.
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<any>((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  const phase = async (name: string) => {
    const profiling = process.env.PROFILE_PHASE === name;
    if (profiling) {
      await post('Profiler.enable');
      await post('Profiler.start');
    }
    events.length = 0;
    acc.clear();
    deliveries.clear();
    stack.emulator.state.resetMetrics();
    const message = newRunMessage('tr', 'incremental', 'manual', new Date());
    // The state store's connection pool (PostgreSQL): callers waiting for a connection, sampled every 5 ms.
    const pool = (stack.state as any).pool as { waitingCount: number; totalCount: number } | undefined;
    const waiting = { samples: 0, waitingSum: 0, waitingMax: 0, busy: 0 };
    const sampler = pool
      ? setInterval(() => {
          waiting.samples++;
          waiting.waitingSum += pool.waitingCount;
          waiting.waitingMax = Math.max(waiting.waitingMax, pool.waitingCount);
          if (pool.waitingCount > 0) waiting.busy++;
        }, 5)
      : undefined;
    const cpu0 = process.cpuUsage();
    t0 = Date.now();
    ev('send run');
    await stack.services.bus().send(QUEUES.runs, [{ body: message, messageId: message.runId, sessionId: 'tr' }]);
    ev('sent');
    for (;;) {
      const run = await pollRun(message.runId);
      if (run?.finishedAt) {
        ev(`run ${run.status} ${run.error ?? ""} finishedAt +${Date.parse(run.finishedAt) - t0} ms counts ${JSON.stringify(run.counts)}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const cpu = process.cpuUsage(cpu0);
    if (sampler) clearInterval(sampler);
    const wallMs = Date.now() - t0;
    await stack.waitForQuiet();
    if (profiling) writeFileSync(`/tmp/trace-${name}.cpuprofile`, JSON.stringify((await post('Profiler.stop')).profile));
    const m = stack.emulator.state.metrics();
    // This process's CPU (product, emulator, queue pump) from the send until the run finished.
    console.log(`\n=== ${name} (${rows} rows) RU ${m.ru.total} requests ${m.requests} throttled ${m.throttled}  wall ${wallMs} ms  cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms (${((cpu.user + cpu.system) / 1000 / wallMs).toFixed(2)} cores)`);
    if (pool) console.log(`  state pool: callers waiting for a connection in ${((100 * waiting.busy) / Math.max(1, waiting.samples)).toFixed(0)} % of samples, mean ${(waiting.waitingSum / Math.max(1, waiting.samples)).toFixed(1)}, max ${waiting.waitingMax}`);
    if (!process.env.TRACE_QUIET) console.log(events.join('\n'));
    for (const [fn, d] of deliveries) console.log(`  deliveries ${fn.padEnd(22)} n=${String(d.n).padStart(5)}  mean ${(d.ms / d.n).toFixed(1).padStart(7)} ms  first start +${d.first} ms, last end +${d.last} ms`);
    const list = [...acc].sort((a, b) => b[1].ms - a[1].ms);
    for (const [k, v] of list) console.log(`  ${k.padEnd(34)} n=${String(v.n).padStart(5)}  ${v.ms.toFixed(1).padStart(8)} ms  mean ${(v.ms / v.n).toFixed(2).padStart(7)} ms`);
  };
  await phase('initial');
  await phase('idle');
  await stack.pg.query(`UPDATE ${table} SET amount = amount + 1, updated_at = clock_timestamp() WHERE id % ${Number(process.env.UPDATE_EVERY ?? 100)} = 1`);
  await phase('update');
  await stack.pg.query(`DELETE FROM ${table} WHERE id % 200 = 3`);
  await phase('delete');
  await phase('idle2');
  await handle.stop();
}
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
