import type { MessageBus } from '../../src/core/ports/bus';
import { QUEUES } from '../../src/core/ports/bus';
import { SyncDefinitionInput as DefinitionSchema } from '../../src/core/definitions';
import type { FaultPoint } from '../../src/sync/deps';
import { newRunMessage } from '../../src/sync/plan-run';
import type { Stack } from '../support/stack';
import { checkInvariant, rawSqlState, rawTableState, type ChaosMapping, type RawState } from './oracle';
import { Prng } from './prng';
import { CuttableProxy } from './proxy';

/**
 * One chaos scenario: a seeded workload (inserts, updates, touches, shard moves, deletes, a
 * mapping change) interleaved with seeded faults (429/503 storms, applied-but-lost writes,
 * resets, a worker crash at a step boundary, duplicate delivery, a poisoned batch (failing before
 * or after its Graph write; a row whose create was lost that way is deleted next round), the source
 * unreachable for a while, two triggers at once). Then the system is driven until quiet and the
 * oracle, which uses none of the product's code, judges the outcome.
 */

export interface ChaosContext {
  stack: Stack;
  proxy: CuttableProxy;
  raw: RawState;
  storage: string;
}

export interface ScenarioResult {
  seed: number;
  faults: number;
  violations: string[];
  /** What the scenario did, for a replay's reader. */
  steps: string[];
}

const CRASH_POINTS: FaultPoint[] = ['plan:after-send', 'write:after-pending', 'write:after-graph', 'write:after-synced', 'move:after-create', 'move:after-swap', 'move:after-delete'];
const REGIONS = ['EU', 'US', 'APAC'] as const;

/** Source connection `pgx` reaches PostgreSQL through the cuttable proxy. */
export async function setupChaos(stack: Stack): Promise<ChaosContext> {
  const url = new URL(process.env.TEST_PG_URL!);
  const proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 5432) });
  await proxy.start();
  const pg = (await stack.state.getSource('pg'))!;
  const { etag: _e, createdAt: _c, updatedAt: _u, ...source } = pg;
  await stack.state.putSource({ ...source, id: 'pgx', host: '127.0.0.1', port: proxy.port });
  const cfg = stack.services.config;
  const storage = cfg.AzureWebJobsStorage!;
  const raw = cfg.STATE_STORE === 'postgres' ? rawSqlState(stack.pg, cfg.STATE_SQL_SCHEMA) : rawTableState(storage, cfg.STATE_TABLE_PREFIX);
  return { stack, proxy, raw, storage };
}

export async function runScenario(ctx: ChaosContext, seed: number, opts: { quietTimeoutMs?: number } = {}): Promise<ScenarioResult> {
  const { stack, proxy } = ctx;
  const rnd = new Prng(seed);
  const steps: string[] = [];
  const violations: string[] = [];
  let faults = 0;
  const id = `c${seed}`;
  const table = `"${stack.schema}"."${id}"`;
  const mapping: ChaosMapping = { listPrefix: `C${seed}`, withNote: false };
  const base = seed * 10_000;
  let nextId = base;
  const live = new Set<number>();
  const ever = new Set<string>();
  const quietTimeout = opts.quietTimeoutMs ?? 90_000;

  await stack.pg.query(`DROP TABLE IF EXISTS ${table}`);
  await stack.pg.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, name text NOT NULL, region text NOT NULL, qty integer NOT NULL, note text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  const insert = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const key = ++nextId;
      await stack.pg.query(`INSERT INTO ${table} (id, name, region, qty, note) VALUES ($1, $2, $3, $4, $5)`, [key, `Item ${key}`, rnd.pick(REGIONS), rnd.int(0, 999), `note ${key}`]);
      live.add(key);
      ever.add(String(key));
    }
  };
  const some = (n: number) => rnd.sample([...live], n);

  const definition = DefinitionSchema.parse({
    id,
    sources: [{ connectionId: 'pgx', role: 'primary', priority: 0 }],
    target: { connectionId: 'sp', siteId: stack.siteId, autoProvision: true },
    table: { schema: stack.schema, name: id },
    title: 'name',
    fields: [{ source: 'qty' }, { source: 'region' }],
    cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 2 },
    deletes: { mode: 'reconcile', everyRuns: 1 },
    sharding: {
      strategy: 'rules',
      rules: [
        { when: { column: 'region', op: 'eq', value: 'EU' }, list: `${mapping.listPrefix} Europe` },
        { when: { column: 'region', op: 'eq', value: 'APAC' }, list: `${mapping.listPrefix} Asia` },
      ],
      default: `${mapping.listPrefix} America`,
    },
  });
  await stack.state.putDefinition({ definition, mappingVersion: 0, activeSourceId: 'pgx' });

  const realBus = stack.services.bus();
  const trigger = async () => {
    const message = newRunMessage(id, 'incremental', 'manual', new Date());
    await stack.services.bus().send(QUEUES.runs, [{ body: message, messageId: message.runId, sessionId: id }]);
  };
  const quiet = async (what: string) => {
    try {
      await stack.waitForQuiet(quietTimeout);
    } catch {
      violations.push(`the pipeline did not go quiet within ${quietTimeout / 1000} s (${what})`);
    }
  };
  const calm = () => {
    stack.emulator.state.clearFaults();
    stack.rewire({ faultPoint: undefined, bus: () => realBus });
    proxy.restore();
  };

  try {
    await insert(rnd.int(15, 45));
    steps.push(`load ${live.size} rows`);
    const rounds = rnd.int(2, 4);
    let lostCreates: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      // Workload.
      const work: string[] = [];
      const inserts = rnd.int(0, 6);
      const firstNew = nextId + 1;
      if (inserts) await insert(inserts), work.push(`+${inserts}`);
      const updated = some(rnd.int(0, 6));
      for (const k of updated) await stack.pg.query(`UPDATE ${table} SET qty = qty + $2, updated_at = clock_timestamp() WHERE id = $1`, [k, rnd.int(1, 50)]);
      if (updated.length) work.push(`~${updated.length}`);
      const touched = some(rnd.int(0, 4));
      for (const k of touched) await stack.pg.query(`UPDATE ${table} SET updated_at = clock_timestamp() WHERE id = $1`, [k]);
      if (touched.length) work.push(`touch ${touched.length}`);
      const moved = some(rnd.int(0, 5));
      for (const k of moved) await stack.pg.query(`UPDATE ${table} SET region = $2, updated_at = clock_timestamp() WHERE id = $1`, [k, rnd.pick(REGIONS)]);
      if (moved.length) work.push(`move ${moved.length}`);
      const deleted = some(rnd.int(0, 3));
      // A row whose create was poisoned after the Graph write last round: delete it, so reconcile meets a pending entry whose item exists.
      const lost = lostCreates.filter((k) => live.has(k) && !deleted.includes(k));
      if (lost.length) deleted.push(rnd.pick(lost));
      for (const k of deleted) {
        await stack.pg.query(`DELETE FROM ${table} WHERE id = $1`, [k]);
        live.delete(k);
      }
      if (deleted.length) work.push(`-${deleted.length}`);
      if (!mapping.withNote && rnd.chance(0.15)) {
        const stored = (await stack.state.getDefinition(id))!;
        const next = { ...stored, definition: { ...stored.definition, fields: [...stored.definition.fields, { source: 'note' }] } };
        await stack.state.putDefinition(next, stored.etag ? { ifMatch: stored.etag } : {});
        mapping.withNote = true;
        work.push('map +note');
      }

      // Faults.
      const armed: string[] = [];
      const emulatorFaults: unknown[] = [];
      if (rnd.chance(0.3)) emulatorFaults.push({ kind: 'status', status: 429, count: rnd.int(3, 30), retryAfter: 1 }), armed.push('429 storm');
      if (rnd.chance(0.2)) emulatorFaults.push({ kind: 'status', status: 503, count: rnd.int(2, 12) }), armed.push('503 storm');
      if (rnd.chance(0.3)) emulatorFaults.push({ kind: 'appliedButLost', count: rnd.int(1, 4), mode: rnd.pick(['status', 'reset']), scope: { op: rnd.pick(['create', 'update', 'delete']) } }), armed.push('lost writes');
      if (rnd.chance(0.2)) emulatorFaults.push({ kind: 'reset', count: rnd.int(1, 3) }), armed.push('resets');
      if (emulatorFaults.length) stack.emulator.state.injectFault(emulatorFaults as never);
      let crashPoint: FaultPoint | undefined;
      const poison = rnd.chance(0.1);
      // Before the Graph write (nothing reached SharePoint), or after it (creates reached SharePoint, the ledger never learnt their items).
      const poisonAt: FaultPoint | undefined = poison ? rnd.pick(['write:after-pending', 'write:after-graph'] as const) : undefined;
      lostCreates = poisonAt === 'write:after-graph' ? Array.from({ length: inserts }, (_, i) => firstNew + i) : [];
      if (poison) armed.push(`poisoned write batches at ${poisonAt}`);
      else if (rnd.chance(0.25)) crashPoint = rnd.pick(CRASH_POINTS), armed.push(`crash at ${crashPoint}`);
      if (crashPoint || poison) {
        let crashed = false;
        stack.rewire({
          faultPoint: (point) => {
            if (poison && point === poisonAt) throw new Error('chaos: this write batch always fails');
            if (point === crashPoint && !crashed) {
              crashed = true;
              throw new Error(`chaos: worker crash at ${point}`);
            }
          },
        });
      }
      if (rnd.chance(0.15)) {
        const doubling: MessageBus = {
          send: async (queue, messages) => {
            const plain = messages.map(({ messageId: _m, ...rest }) => rest);
            await realBus.send(queue, [...plain, ...plain]);
          },
          ping: () => realBus.ping(),
          close: async () => undefined,
        };
        stack.rewire({ bus: () => doubling });
        armed.push('duplicate delivery');
      }
      let outage: Promise<void> | undefined;
      if (rnd.chance(0.1)) {
        const seconds = rnd.int(1, 4);
        proxy.sever();
        outage = new Promise((r) => setTimeout(r, seconds * 1000)).then(() => proxy.restore());
        armed.push(`source down ${seconds} s`);
      }
      const twice = rnd.chance(0.15);
      if (twice) armed.push('two triggers');
      faults += armed.length;
      steps.push(`round ${round}: ${work.join(' ') || 'no changes'} | ${armed.join(', ') || 'no faults'}`);

      await (twice ? Promise.all([trigger(), trigger()]) : trigger());
      await outage;
      await quiet(`round ${round}`);
      calm();
      await quiet(`round ${round}, after the faults ended`);
    }

    // Drive until quiet: runs until one has nothing left to do.
    calm();
    let settled = false;
    const seen: string[] = [];
    for (let i = 0; i < 8 && !settled; i++) {
      const message = newRunMessage(id, 'incremental', 'manual', new Date());
      await realBus.send(QUEUES.runs, [{ body: message, messageId: message.runId, sessionId: id }]);
      await quiet('settling');
      const run = await stack.state.getRun(message.runId);
      const c = run?.counts;
      settled = !!run && run.status === 'succeeded' && !!c && c.failed + c.created + c.updated + c.moved + c.deleted === 0;
      if (!settled) seen.push(`${run?.status ?? 'unrecorded'} ${run?.error ?? ''} ${JSON.stringify(c ?? {})}`.trim());
    }
    if (!settled) violations.push(`did not settle in 8 runs: ${seen.join(' | ')}`);

    violations.push(
      ...(await checkInvariant({
        definitionId: id,
        pg: stack.pg,
        selectSql: `SELECT id, name, region, qty, note FROM ${table}`,
        mapping,
        everIds: ever,
        emulator: {
          lists: () =>
            stack.emulator.state.lists().map((l) => ({ id: l.id, name: l.displayName, items: stack.emulator.state.items(l.id).map((i) => ({ id: i.id, fields: i.fields })) })),
        },
        raw: ctx.raw,
        storageConnectionString: ctx.storage,
      })),
    );
  } finally {
    calm();
  }
  return { seed, faults, violations, steps };
}

export function summarise(results: ScenarioResult[]): string {
  const faults = results.reduce((n, r) => n + r.faults, 0);
  const violations = results.reduce((n, r) => n + r.violations.length, 0);
  return `chaos: ${results.length} scenarios, ${faults} faults, ${violations} violations`;
}

export function describeFailures(results: ScenarioResult[], store: string): string {
  return results
    .filter((r) => r.violations.length)
    .map((r) => `seed ${r.seed} (${store} state store; replay: npm run chaos -- --seed ${r.seed} --store ${store})\n  ${r.steps.join('\n  ')}\n  violations:\n    ${r.violations.slice(0, 15).join('\n    ')}`)
    .join('\n');
}
