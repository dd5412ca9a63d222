import { z } from 'zod';

/**
 * Every setting the product reads, validated once at start. A missing or invalid setting stops
 * start-up with a message naming the setting. Names match `local.settings.sample.json` and
 * `infra/main.bicep` (a test keeps the three in step).
 */

const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const url = z.string().url('must be a URL');

export const SETTINGS = z
  .object({
    /** Where ledger, cursors, runs and configuration live. */
    STATE_STORE: z.enum(['table', 'postgres', 'sqlserver']).default('table'),
    /** Storage account: connection string (local/Azurite) ... */
    AzureWebJobsStorage: z.string().min(1).optional(),
    /** ... or identity-based (Azure). */
    AzureWebJobsStorage__accountName: z.string().min(3).max(24).optional(),
    STATE_TABLE_PREFIX: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,29}$/, 'letters and digits, starting with a letter').default('sync'),
    /** SQL state store URL (postgres:// or mssql://); holds a password, so it is a Key Vault reference in Azure. */
    STATE_SQL_URL: z.string().min(1).optional(),
    STATE_SQL_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'lower-case letters, digits and "_"').default('sync_state'),

    /** `servicebus` in Azure; `storage` (Storage queues on Azurite) for the local host. */
    QUEUE_TRANSPORT: z.enum(['servicebus', 'storage']).default('servicebus'),
    ServiceBusConnection: z.string().min(1).optional(),
    ServiceBusConnection__fullyQualifiedNamespace: z.string().min(1).optional(),

    KEY_VAULT_URI: url.optional(),
    /** Lets the API accept a password and write it to Key Vault, storing only its reference. */
    ALLOW_SECRET_WRITE: bool.default(false),

    GRAPH_BASE_URL: url.default('https://graph.microsoft.com'),
    /** Only for the Graph emulator: a static bearer token instead of Entra ID credentials. */
    GRAPH_STATIC_TOKEN: z.string().min(1).optional(),
    GRAPH_BUDGET_RU_PER_MINUTE: int(60, 1_000_000).default(1250),
    GRAPH_MAX_CONCURRENCY: int(1, 64).default(4),
    /** Equal shares the tenant budget is cut into, leased through the state store so every instance together stays within it. */
    GRAPH_BUDGET_SHARES: int(1, 400).default(8),
    /** Seconds one Graph write call waits out throttling inline; beyond it the batch is rescheduled. */
    GRAPH_MAX_INLINE_WAIT_SECONDS: int(0, 600).default(30),

    SCHEDULER_CRON: z.string().min(11).default('0 * * * * *'),
    /** How often the scheduler timer probes each definition's sources (failover health). */
    SOURCE_PROBE_INTERVAL_SECONDS: int(10, 86_400).default(60),
    /** How long one source probe may take before it counts as a failure. */
    SOURCE_PROBE_TIMEOUT_SECONDS: int(1, 300).default(10),
    /** How long POST /failover waits for a running run to end before answering 409. */
    FAILOVER_LEASE_WAIT_SECONDS: int(0, 600).default(60),
    /** Bytes allowed per write-batch message (Service Bus Standard: 256 KB). */
    MESSAGE_MAX_BYTES: int(16_384, 100 * 1024 * 1024).default(250_000),

    /** Longest a run may wait out throttling (from its start) before its still-throttled batches fail. */
    RUN_MAX_THROTTLE_WAIT_MINUTES: int(1, 7 * 24 * 60).default(120),
    /** A running run with no settled batch, no planning step and no throttle wait for this long is ended by the reaper. */
    RUN_STALL_MINUTES: int(1, 24 * 60).default(15),
    /** Planning attempts per run (a transient source error or a crash mid-planning starts the next one). */
    RUN_PLAN_MAX_ATTEMPTS: int(1, 20).default(4),
    /** Wait before the second planning attempt; doubles with each further attempt (at most 10 minutes). */
    RUN_PLAN_RETRY_SECONDS: int(1, 3600).default(30),

    /** With App Service Authentication (Entra ID) on: require the caller's app roles Sync.Read / Sync.Admin. */
    API_ENTRA_ROLES: bool.default(false),
    /** Key the local host checks for auth level `function` (DESIGN §13). */
    LOCAL_FUNCTION_KEY: z.string().min(8, 'must be at least 8 characters').optional(),
    LOG_LEVEL: z.enum(['trace', 'debug', 'information', 'warning', 'error']).default('information'),
  })
  .superRefine((s, ctx) => {
    if (s.STATE_STORE === 'table' && !s.AzureWebJobsStorage && !s.AzureWebJobsStorage__accountName) {
      ctx.addIssue({ code: 'custom', path: ['AzureWebJobsStorage'], message: 'is required when STATE_STORE=table (or set AzureWebJobsStorage__accountName)' });
    }
    if (s.STATE_STORE !== 'table' && !s.STATE_SQL_URL) {
      ctx.addIssue({ code: 'custom', path: ['STATE_SQL_URL'], message: `is required when STATE_STORE=${s.STATE_STORE}` });
    }
    if (s.QUEUE_TRANSPORT === 'servicebus' && !s.ServiceBusConnection && !s.ServiceBusConnection__fullyQualifiedNamespace) {
      ctx.addIssue({
        code: 'custom',
        path: ['ServiceBusConnection__fullyQualifiedNamespace'],
        message: 'is required when QUEUE_TRANSPORT=servicebus (or set ServiceBusConnection)',
      });
    }
    if (s.QUEUE_TRANSPORT === 'storage' && !s.AzureWebJobsStorage) {
      ctx.addIssue({ code: 'custom', path: ['AzureWebJobsStorage'], message: 'a connection string is required when QUEUE_TRANSPORT=storage' });
    }
    if (s.ALLOW_SECRET_WRITE && !s.KEY_VAULT_URI) {
      ctx.addIssue({ code: 'custom', path: ['KEY_VAULT_URI'], message: 'is required when ALLOW_SECRET_WRITE=true' });
    }
  });

export type Config = z.output<typeof SETTINGS>;
export const SETTING_NAMES = Object.keys(SETTINGS.shape) as Array<keyof Config>;
/** Settings whose values may carry a secret: never logged, never returned. */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set(['AzureWebJobsStorage', 'STATE_SQL_URL', 'ServiceBusConnection', 'GRAPH_STATIC_TOKEN', 'LOCAL_FUNCTION_KEY']);

export class ConfigurationError extends Error {
  constructor(readonly problems: Array<{ setting: string; message: string }>) {
    super(`Invalid settings:\n${problems.map((p) => `  - ${p.setting}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigurationError';
  }
}

/** Parses settings from an environment; empty strings count as unset (as app settings often are). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked: Record<string, string> = {};
  for (const name of SETTING_NAMES) {
    const value = env[name];
    if (value !== undefined && value !== '') picked[name] = value;
  }
  const result = SETTINGS.safeParse(picked);
  if (!result.success) {
    throw new ConfigurationError(
      result.error.issues.map((issue) => ({ setting: String(issue.path[0] ?? 'settings'), message: issue.message })),
    );
  }
  return result.data;
}

let cached: Config | undefined;
/** The process's settings, read once. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
/** For hosts and tests that set up the environment before first use. */
export function resetConfigForTests(next?: Config): void {
  cached = next;
}
