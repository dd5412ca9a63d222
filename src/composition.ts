import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { StorageQueueBus } from './adapters/bus/storage-queue-bus';
import { ServiceBusBus } from './adapters/bus/service-bus';
import { createSecrets } from './adapters/secrets';
import { LeasedBudgetShares } from './adapters/sharepoint/budget-shares';
import { createGraphListTarget } from './adapters/sharepoint/graph-list-target';
import { TenantLimiter } from './adapters/sharepoint/limiter';
import { createSourceDatabase } from './adapters/source';
import { createStateStore, type StateStoreSettings } from './adapters/state';
import type { Config } from './config';
import { notFound } from './core/errors';
import type { MessageBus } from './core/ports/bus';
import type { ListTarget } from './core/ports/list-target';
import { silentLogger, type Logger } from './core/ports/logger';
import type { Secrets } from './core/ports/secrets';
import type { SourceDatabase } from './core/ports/source';
import type { StateStore, StoredDefinition, StoredSharePoint } from './core/ports/state';
import type { AdminDeps } from './sync/definitions-admin';
import { DEFAULT_SYNC_SETTINGS, type SyncDeps } from './sync/deps';
import type { Probe } from './sync/health';

/**
 * The composition root: the one place that turns settings into adapters. Each host builds one
 * `Services` from its settings and hands it to the function table (`createFunctionTable`);
 * nothing looks it up globally. Adapters are built lazily, on first use, so building the table
 * (registration in Azure) connects to nothing.
 */
export interface Services {
  config: Config;
  version: string;
  credential(): TokenCredential;
  bus(): MessageBus;
  secrets(): Secrets;
  /** Initialised (tables / migrations) on first use. */
  state(): Promise<StateStore>;
  source(connectionId: string): Promise<SourceDatabase>;
  target(connectionId: string): Promise<ListTarget>;
  /**
   * A definition as read at most `CONFIG_REUSE_MS` ago (or since this host last wrote it), for
   * the write path, which reads it per message; everything that plans or changes a definition
   * reads the store.
   */
  recentDefinition(id: string): Promise<StoredDefinition | null>;
  probes(): Record<string, Probe>;
  /** Crash-test seam handed to the use cases (never set in production). */
  faultPoint?: SyncDeps['faultPoint'];
}

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
}

/**
 * How long a config record read for the write path (a SharePoint connection, a definition) is
 * reused before it is read again. Writers read both per message (hundreds of reads a minute in a
 * load); a change made through this host is seen at once (its write drops the record), one made
 * through another instance within this long.
 */
export const CONFIG_REUSE_MS = 5_000;

/** Records by id, each reused for `maxAgeMs` after it was read; an absent record is not kept. */
export class RecentRecords<T> {
  private readonly entries = new Map<string, { value: Promise<T | null>; readAt: number }>();

  constructor(
    private readonly read: (id: string) => Promise<T | null>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(id: string): Promise<T | null> {
    const at = this.now();
    const kept = this.entries.get(id);
    if (kept && at - kept.readAt < this.maxAgeMs) return kept.value;
    const value = this.read(id);
    const entry = { value, readAt: at };
    this.entries.set(id, entry);
    const drop = () => {
      if (this.entries.get(id) === entry) this.entries.delete(id);
    };
    value.then((record) => record ?? drop(), drop);
    return value;
  }

  forget(id: string): void {
    this.entries.delete(id);
  }
}

/** Makes the store's own writes of SharePoint connections and definitions drop the records kept of them. */
function forgetOnWrite(store: StateStore, connections: RecentRecords<StoredSharePoint>, definitions: RecentRecords<StoredDefinition>): void {
  const putSharePoint = store.putSharePoint.bind(store);
  const deleteSharePoint = store.deleteSharePoint.bind(store);
  const putDefinition = store.putDefinition.bind(store);
  const deleteDefinition = store.deleteDefinition.bind(store);
  // Dropped after the write too: a read that started before it may have kept the old record.
  const around = async <R>(forget: () => void, write: () => Promise<R>): Promise<R> => {
    forget();
    try {
      return await write();
    } finally {
      forget();
    }
  };
  store.putSharePoint = (conn, opts) => around(() => connections.forget(conn.id), () => putSharePoint(conn, opts));
  store.deleteSharePoint = (id) => around(() => connections.forget(id), () => deleteSharePoint(id));
  store.putDefinition = (def, opts) => around(() => definitions.forget(def.definition.id), () => putDefinition(def, opts));
  store.deleteDefinition = (id) => around(() => definitions.forget(id), () => deleteDefinition(id));
}

/** Settings → the adapter factory's input. "UseDevelopmentStorage=true" is not a real connection string. */
function stateStoreSettings(cfg: Config): StateStoreSettings {
  const connectionString = cfg.AzureWebJobsStorage && cfg.AzureWebJobsStorage !== 'UseDevelopmentStorage=true' ? cfg.AzureWebJobsStorage : undefined;
  return {
    kind: cfg.STATE_STORE,
    connectionString,
    accountUrl: cfg.AzureWebJobsStorage__accountName ? `https://${cfg.AzureWebJobsStorage__accountName}.table.core.windows.net` : undefined,
    sqlUrl: cfg.STATE_SQL_URL,
    tablePrefix: cfg.STATE_TABLE_PREFIX,
    schema: cfg.STATE_SQL_SCHEMA,
  };
}

export function createServices(cfg: Config): Services {
  const credential = once<TokenCredential>(() => new DefaultAzureCredential());
  const bus = once<MessageBus>(() => {
    if (cfg.QUEUE_TRANSPORT === 'storage') return new StorageQueueBus(cfg.AzureWebJobsStorage!);
    if (cfg.ServiceBusConnection) return new ServiceBusBus({ connectionString: cfg.ServiceBusConnection });
    return new ServiceBusBus({ fullyQualifiedNamespace: cfg.ServiceBusConnection__fullyQualifiedNamespace!, credential: credential() });
  });
  const secrets = once(() => createSecrets({ keyVaultUri: cfg.KEY_VAULT_URI, credential: cfg.KEY_VAULT_URI ? credential() : undefined }));
  // Read through `state()` (declared below; used only once a record is asked for).
  const connections = new RecentRecords<StoredSharePoint>(async (id) => (await state()).getSharePoint(id), CONFIG_REUSE_MS);
  const definitions = new RecentRecords<StoredDefinition>(async (id) => (await state()).getDefinition(id), CONFIG_REUSE_MS);
  const state = once(async () => {
    const settings = stateStoreSettings(cfg);
    const store = createStateStore(settings, settings.connectionString ? undefined : credential());
    await store.init();
    forgetOnWrite(store, connections, definitions);
    return store;
  });
  const targets = new Map<string, Promise<ListTarget>>();
  // One limiter per tenant for this host; its budget shares are leased through the state store,
  // so every instance (and every local process) on the tenant together stays within the budget.
  const limiters = new Map<string, TenantLimiter>();
  const limiterFor = async (tenantId: string): Promise<TenantLimiter> => {
    const key = tenantId.trim().toLowerCase();
    const leases = await state();
    let limiter = limiters.get(key);
    if (!limiter) {
      const sharedBudget = new LeasedBudgetShares({ leases, tenantId: key, budgetRuPerMinute: cfg.GRAPH_BUDGET_RU_PER_MINUTE, shares: cfg.GRAPH_BUDGET_SHARES });
      limiter = new TenantLimiter({ budgetRuPerMinute: cfg.GRAPH_BUDGET_RU_PER_MINUTE, maxConcurrency: cfg.GRAPH_MAX_CONCURRENCY, sharedBudget });
      limiters.set(key, limiter);
    }
    return limiter;
  };
  const s: Services = {
    config: cfg,
    version: process.env.npm_package_version ?? '1.0.0',
    credential,
    bus,
    secrets,
    state,
    async source(connectionId) {
      const conn = await (await state()).getSource(connectionId);
      if (!conn) throw notFound('sources', 'source connection', connectionId);
      const { etag: _e, createdAt: _c, updatedAt: _u, ...record } = conn;
      return createSourceDatabase(record, this.secrets());
    },
    async target(connectionId) {
      const conn = await connections.get(connectionId);
      if (!conn) throw notFound('sharepoint', 'SharePoint connection', connectionId);
      const key = `${connectionId}:${conn.etag ?? conn.updatedAt ?? ''}`;
      let target = targets.get(key);
      if (!target) {
        const { etag: _e, createdAt: _c, updatedAt: _u, ...record } = conn;
        target = limiterFor(record.tenantId).then((limiter) => createGraphListTarget(record, this.secrets(), cfg, limiter));
        target.catch(() => targets.delete(key));
        targets.set(key, target);
      }
      return target;
    },
    recentDefinition: (id) => definitions.get(id),
    probes: () => ({
      config: async () => undefined,
      stateStore: async () => (await state()).ping(),
      queues: () => bus().ping(),
      graph: () => pingGraph(cfg.GRAPH_BASE_URL),
    }),
  };
  return s;
}

/** The use cases' view of the services. */
export async function syncDeps(s: Services, log: Logger = silentLogger): Promise<SyncDeps> {
  return {
    state: await s.state(),
    bus: s.bus(),
    source: (id) => s.source(id),
    target: (id) => s.target(id),
    recentDefinition: (id) => s.recentDefinition(id),
    log,
    now: () => new Date(),
    faultPoint: s.faultPoint,
    settings: {
      ...DEFAULT_SYNC_SETTINGS,
      // Storage queues (local host) take 64 KiB per message, base64 included.
      messageMaxBytes: s.config.QUEUE_TRANSPORT === 'storage' ? Math.min(s.config.MESSAGE_MAX_BYTES, 45_000) : s.config.MESSAGE_MAX_BYTES,
      probeIntervalMs: s.config.SOURCE_PROBE_INTERVAL_SECONDS * 1000,
      probeTimeoutMs: s.config.SOURCE_PROBE_TIMEOUT_SECONDS * 1000,
      failoverLeaseWaitMs: s.config.FAILOVER_LEASE_WAIT_SECONDS * 1000,
      maxThrottleWaitMs: s.config.RUN_MAX_THROTTLE_WAIT_MINUTES * 60_000,
      stallMs: s.config.RUN_STALL_MINUTES * 60_000,
      planMaxAttempts: s.config.RUN_PLAN_MAX_ATTEMPTS,
      planRetryBaseMs: s.config.RUN_PLAN_RETRY_SECONDS * 1000,
    },
  };
}

/** The admin use cases' view: the sync collaborators plus secrets and the secret-write switch. */
export async function adminDeps(s: Services, log: Logger = silentLogger): Promise<AdminDeps> {
  return { ...(await syncDeps(s, log)), secrets: s.secrets(), allowSecretWrite: s.config.ALLOW_SECRET_WRITE };
}

/** Any HTTP answer (even 401 without a token) proves the Graph endpoint is reachable. */
async function pingGraph(baseUrl: string): Promise<void> {
  const response = await fetch(new URL('/v1.0/$metadata', baseUrl), { method: 'HEAD', signal: AbortSignal.timeout(4000) });
  await response.body?.cancel();
}
