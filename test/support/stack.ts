import { QueueServiceClient } from '@azure/storage-queue';
import { Client } from 'pg';
import { defaultSourceCache } from '../../src/adapters/source';
import { createServices, syncDeps, type Services } from '../../src/composition';
import { loadConfig } from '../../src/config';
import type { SyncDefinitionInput } from '../../src/core/definitions';
import { SyncDefinitionInput as DefinitionSchema } from '../../src/core/definitions';
import { QUEUES } from '../../src/core/ports/bus';
import type { RunRecord, StateStore, StoredDefinition } from '../../src/core/ports/state';
import { startGraphEmulator, type GraphEmulator } from '../../src/emulator';
import { createFunctionTable } from '../../src/functions';
import { LocalHost, type QueuePumpOptions } from '../../src/local/host';
import { startAzurite } from '../../src/local/services';
import { storageQueueOf, type FunctionDefinition } from '../../src/runtime/function-table';
import { newRunMessage } from '../../src/sync/plan-run';
import type { SyncDeps } from '../../src/sync/deps';

/**
 * The local host stack for end-to-end tests: Azurite (state + queues), real PostgreSQL (or
 * PGlite), the Graph emulator over HTTP, and the real function table pumped by the local host.
 */
export interface Stack {
  id: string;
  emulator: GraphEmulator;
  services: Services;
  state: StateStore;
  deps: SyncDeps;
  host: LocalHost;
  pg: Client;
  schema: string;
  siteId: string;
  stop(): Promise<void>;
  /** Sends a run and waits until it and everything it fanned out (continuations included) is done. */
  run(definitionId: string, mode?: 'incremental' | 'full' | 'dryRun'): Promise<RunRecord>;
  waitForQuiet(timeoutMs?: number): Promise<void>;
  addDefinition(def: Omit<SyncDefinitionInput, 'sources' | 'target'> & Partial<Pick<SyncDefinitionInput, 'target'>>): Promise<StoredDefinition>;
  /** Changes what the function handlers see (crash seam, a different bus or source) until changed again. */
  rewire(change: Partial<Pick<Services, 'faultPoint' | 'bus' | 'source'>>): void;
  /** Items of every list of the emulator that carry a SyncKey. */
  items(): Array<{ list: string; id: string; fields: Record<string, unknown> }>;
}

export interface StackOptions {
  emulatorBudget?: number;
  queues?: Partial<QueuePumpOptions>;
  functions?: FunctionDefinition[];
  settings?: Record<string, string>;
  /** Also serve the HTTP functions (API and console) at `host.url`. */
  serveHttp?: boolean;
  /** Also run the scheduler timer (reaper + due schedule slots) on SCHEDULER_CRON, as the host would. */
  scheduler?: boolean;
}

/** Stack settings for a state store: Table Storage on the stack's Azurite (none needed), or PostgreSQL in a fresh schema named `<prefix>_<random>`. */
export function stateStoreSettings(store: 'table' | 'postgres', schemaPrefix: string): Record<string, string> {
  return store === 'postgres' ? { STATE_STORE: 'postgres', STATE_SQL_URL: process.env.TEST_PG_URL!, STATE_SQL_SCHEMA: `${schemaPrefix}_${Math.random().toString(36).slice(2, 8)}` } : {};
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const id = `e${Math.random().toString(36).slice(2, 8)}`;
  // Each stack has its own Azurite: queue names are fixed (Bicep names them), so two test files
  // sharing one account would pump each other's messages.
  const azurite = await startAzurite();
  const storage = azurite.connectionString;
  const emulator = await startGraphEmulator({ port: 0, budgetRuPerMinute: opts.emulatorBudget ?? 600_000 });
  const pgUrl = process.env.TEST_PG_URL!;
  process.env[`SECRET_${id.toUpperCase()}_PG`] = pgUrl;
  const cfg = loadConfig({
    AzureWebJobsStorage: storage,
    QUEUE_TRANSPORT: 'storage',
    STATE_TABLE_PREFIX: id,
    GRAPH_BASE_URL: emulator.url,
    GRAPH_STATIC_TOKEN: 'test-token',
    GRAPH_BUDGET_RU_PER_MINUTE: String(opts.emulatorBudget ?? 600_000),
    GRAPH_MAX_CONCURRENCY: '8',
    LOCAL_FUNCTION_KEY: 'test-function-key',
    // Planning retries back off by seconds here, not the production half-minute.
    RUN_PLAN_RETRY_SECONDS: '1',
    ...opts.settings,
  });
  const services = createServices(cfg);
  // The handlers' own copy of the services, which `rewire` changes in place; the stack itself
  // (sending runs, reading state) keeps using `services` as built.
  const handlerServices: Services = { ...services };
  const state = await services.state();
  const deps = await syncDeps(services);
  const url = new URL(pgUrl);
  const schema = `${id}_src`;
  const pg = new Client({ connectionString: pgUrl });
  await pg.connect();
  await pg.query(`CREATE SCHEMA "${schema}"`);
  await state.putSource({ id: 'pg', engine: 'postgres', host: url.hostname, port: Number(url.port || 5432), database: decodeURIComponent(url.pathname.slice(1)) || 'postgres', user: decodeURIComponent(url.username) || 'postgres', secretRef: `${id}-pg`, tls: { enabled: false, rejectUnauthorized: false } });
  await state.putSharePoint({ id: 'sp', tenantId: 'tenant-1', clientId: 'client-1', auth: { kind: 'managedIdentity' } });
  // Queue names are shared by every test file on this Azurite: isolate by clearing them first.
  const queueService = QueueServiceClient.fromConnectionString(storage);
  for (const q of Object.values(QUEUES)) {
    await queueService.getQueueClient(q).createIfNotExists();
    await queueService.getQueueClient(q).clearMessages();
  }
  const functions = opts.functions ?? createFunctionTable(handlerServices).filter((f) => f.kind === 'queue' || (opts.scheduler && f.name === 'scheduler') || (opts.serveHttp && f.kind === 'http'));
  // Dead letters waiting for their function are work in progress too.
  const pumped = functions.flatMap((f) => (f.kind === 'queue' ? [storageQueueOf(f)] : []));
  const host = new LocalHost({
    functions,
    port: 0,
    storageConnectionString: storage,
    functionKey: 'test-function-key',
    queues: { pollIntervalMs: 20, retryDelayMs: 0, maxDequeueCount: 8, ...opts.queues },
    log: (level, message) => (process.env.STACK_LOG ? console.log(`[${level}] ${message}`) : undefined),
    env: { ...process.env, SCHEDULER_CRON: cfg.SCHEDULER_CRON },
  });
  await host.start();
  const siteId = emulator.state.defaultSiteId;

  const queueCounts = async () => {
    let total = 0;
    for (const q of Object.values(QUEUES)) total += (await queueService.getQueueClient(q).getProperties()).approximateMessagesCount ?? 0;
    // A poison queue appears once its pump starts.
    for (const q of pumped.filter((p) => !(Object.values(QUEUES) as string[]).includes(p))) total += (await queueService.getQueueClient(q).getProperties().catch(() => undefined))?.approximateMessagesCount ?? 0;
    return total;
  };

  const stack: Stack = {
    id,
    emulator,
    services,
    state,
    deps,
    host,
    pg,
    schema,
    siteId,
    async stop() {
      await host.stop();
      await defaultSourceCache.closeAll();
      await state.close();
      await services.bus().close();
      await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      if (cfg.STATE_STORE === 'postgres') await pg.query(`DROP SCHEMA IF EXISTS "${cfg.STATE_SQL_SCHEMA}" CASCADE`).catch(() => undefined);
      await pg.end();
      await emulator.close();
      await azurite.stop();
    },
    async waitForQuiet(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let quietPolls = 0;
      while (quietPolls < 3) {
        if (Date.now() > deadline) throw new Error('the pipeline did not go quiet in time');
        await new Promise((r) => setTimeout(r, 60));
        quietPolls = (await queueCounts()) === 0 && !host.busy ? quietPolls + 1 : 0;
      }
    },
    async run(definitionId, mode = 'incremental') {
      const message = newRunMessage(definitionId, mode, 'manual', new Date());
      await services.bus().send(QUEUES.runs, [{ body: message, messageId: message.runId, sessionId: definitionId }]);
      await stack.waitForQuiet();
      const run = await state.getRun(message.runId);
      if (!run) throw new Error(`run ${message.runId} was never recorded`);
      return run;
    },
    rewire(change) {
      Object.assign(handlerServices, change);
    },
    async addDefinition(def) {
      const definition = DefinitionSchema.parse({ sources: [{ connectionId: 'pg', role: 'primary' }], target: { connectionId: 'sp', siteId, autoProvision: true }, ...def });
      return state.putDefinition({ definition, mappingVersion: 0, activeSourceId: 'pg' });
    },
    items() {
      const out: Array<{ list: string; id: string; fields: Record<string, unknown> }> = [];
      for (const list of emulator.state.lists()) {
        for (const item of emulator.state.items(list.id)) if (item.fields.SyncKey) out.push({ list: list.displayName, id: item.id, fields: item.fields });
      }
      return out;
    },
  };
  return stack;
}
