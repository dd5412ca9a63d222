import { parseNcrontab } from './ncrontab';
import { z } from 'zod';

/**
 * The admin's contract (DESIGN §3). Every object is strict: unknown fields are rejected so a
 * typo in a definition is an error, never a silently ignored setting.
 */

const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'letters, digits, "-" and "_" only, starting with a letter or digit');

/** A reference to a secret (a Key Vault secret name); never the secret itself. */
export const SecretRef = z
  .string()
  .min(1)
  .max(127)
  .regex(/^[A-Za-z0-9-]+$/, 'a Key Vault secret name: letters, digits and "-"');

/** SQL identifiers are validated against the introspected schema later; here only their shape. */
export const SqlIdentifier = z
  .string()
  .min(1)
  .max(128)
  .refine((s) => !/[\u0000]/.test(s), 'must not contain NUL');

export const TlsOptions = z
  .object({
    enabled: z.boolean().default(true),
    rejectUnauthorized: z.boolean().default(true),
    serverName: z.string().optional(),
  })
  .strict();

export const SourceConnectionInput = z
  .object({
    id,
    engine: z.enum(['postgres', 'sqlserver']),
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535).optional(),
    database: z.string().min(1).max(128),
    user: z.string().min(1).max(128),
    secretRef: SecretRef,
    tls: TlsOptions.optional(),
    options: z
      .object({
        connectTimeoutMs: z.number().int().min(100).max(120000).optional(),
        poolMax: z.number().int().min(1).max(100).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type SourceConnection = z.infer<typeof SourceConnectionInput>;

/** Graph site ids (`host,guid,guid`): no "/", "?" or "#", so an id cannot steer the Graph URL it is put into. */
export const SiteId = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[A-Za-z0-9.,:_-]+$/, 'a Graph site id such as contoso.sharepoint.com,<guid>,<guid>');

export const SharePointConnectionInput = z
  .object({
    id,
    tenantId: z.string().min(1).max(64),
    clientId: z.string().min(1).max(64),
    auth: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('managedIdentity') }).strict(),
      z.object({ kind: z.literal('clientSecret'), secretRef: SecretRef }).strict(),
      z.object({ kind: z.literal('certificate'), secretRef: SecretRef }).strict(),
    ]),
    defaultSiteId: z.string().min(1).max(512).optional(),
  })
  .strict();
export type SharePointConnection = z.infer<typeof SharePointConnectionInput>;

export const FilterOp = z.enum(['eq', 'ne', 'in', 'lt', 'lte', 'gt', 'gte', 'between', 'isNull', 'startsWith']);
export type FilterOp = z.infer<typeof FilterOp>;

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const ShardRule = z
  .object({
    when: z.object({ column: SqlIdentifier, op: FilterOp, value: z.union([Scalar, z.array(Scalar)]).optional() }).strict(),
    list: z.string().min(1).max(255),
  })
  .strict();

export const Sharding = z.discriminatedUnion('strategy', [
  z.object({ strategy: z.literal('none'), list: z.string().min(1).max(255) }).strict(),
  z.object({ strategy: z.literal('rules'), rules: z.array(ShardRule).min(1), default: z.string().min(1).max(255) }).strict(),
  z
    .object({
      strategy: z.literal('date'),
      column: SqlIdentifier,
      period: z.enum(['year', 'quarter', 'month']),
      listTemplate: z.string().min(1).max(200).refine((t) => t.includes('{yyyy}'), 'must contain {yyyy}'),
      nullList: z.string().min(1).max(255).optional(),
    })
    .strict(),
  z
    .object({
      strategy: z.literal('hash'),
      buckets: z.number().int().min(1).max(1000),
      listTemplate: z.string().min(1).max(200).refine((t) => t.includes('{n}'), 'must contain {n}'),
    })
    .strict(),
]);
export type Sharding = z.infer<typeof Sharding>;

export const FieldMapping = z
  .object({
    source: SqlIdentifier,
    target: z.string().min(1).max(255).optional(),
    type: z.enum(['text', 'note', 'number', 'currency', 'boolean', 'dateTime', 'dateOnly', 'choice']).optional(),
  })
  .strict();
export type FieldMapping = z.infer<typeof FieldMapping>;

export const CursorSpec = z
  .object({
    kind: z.enum(['timestamp', 'rowversion', 'integer', 'full']),
    column: SqlIdentifier.optional(),
    lookbackSeconds: z.number().int().min(0).max(7 * 24 * 3600).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.kind !== 'full' && !c.column) ctx.addIssue({ code: 'custom', path: ['column'], message: `cursor kind '${c.kind}' needs a column` });
  });

export const DeletesSpec = z
  .object({
    mode: z.enum(['none', 'softDelete', 'reconcile']),
    column: SqlIdentifier.optional(),
    value: Scalar.optional(),
    everyRuns: z.number().int().min(1).max(10000).optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.mode === 'softDelete' && !d.column) ctx.addIssue({ code: 'custom', path: ['column'], message: 'softDelete needs a column' });
  });

export const DefinitionSource = z
  .object({
    connectionId: id,
    role: z.enum(['primary', 'secondary']),
    /** Lower is preferred when a secondary is chosen for automatic failover. */
    priority: z.number().int().min(0).max(1000).default(0),
    /**
     * The same database as the other sources, not a copy of its rows (an availability-group
     * replica): only then does a rowversion cursor mean the same thing after a failover.
     */
    sameDatabase: z.boolean().optional(),
  })
  .strict();
export type DefinitionSource = z.output<typeof DefinitionSource>;

/** Failover (DESIGN §7). Automatic failover is opt-in; manual failover through the API works either way. */
export const FailoverSpec = z
  .object({
    automatic: z.boolean().default(false),
    /** Consecutive failed probes of the primary before a secondary is promoted. */
    afterFailures: z.number().int().min(1).max(100).default(3),
    /** No automatic promotion within this many minutes of the last failover (no flapping). */
    holdDownMinutes: z.number().int().min(0).max(7 * 24 * 60).default(30),
  })
  .strict();
export type FailoverSpec = z.output<typeof FailoverSpec>;

/** Drift (DESIGN §7) a definition opts into. */
export const DriftSpec = z
  .object({
    /** After every run, read each list's delta feed since the last watch: people's edits and deletes, at a cost that grows with the changes. */
    watch: z.boolean().default(false),
    /** NCRONTAB of scheduled checks (the scheduler timer enqueues one per slot). */
    schedule: z
      .string()
      .max(120)
      .nullable()
      .default(null)
      .superRefine((s, ctx) => {
        if (s === null) return;
        try {
          parseNcrontab(s);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `not a valid NCRONTAB expression: ${(error as Error).message}` });
        }
      }),
    mode: z.enum(['quick', 'deep']).default('quick'),
    /** Repairs run (not as a dry run) after a scheduled check that found something. */
    autoRepair: z.array(z.enum(['recreateMissing', 'adoptOrphans', 'deleteOrphans', 'removeDuplicates', 'rewriteMismatches', 'fixPointers'])).max(6).default([]),
  })
  .strict();
export type DriftSpec = z.output<typeof DriftSpec>;

export const SyncDefinitionInput = z
  .object({
    id,
    displayName: z.string().max(200).optional(),
    enabled: z.boolean().default(true),
    sources: z
      .array(DefinitionSource)
      .min(1)
      .superRefine((s, ctx) => {
        const primaries = s.filter((x) => x.role === 'primary').length;
        if (primaries !== 1) ctx.addIssue({ code: 'custom', message: `exactly one primary source is required, found ${primaries}` });
        const ids = new Set(s.map((x) => x.connectionId));
        if (ids.size !== s.length) ctx.addIssue({ code: 'custom', message: 'a source connection appears twice' });
      }),
    table: z.object({ schema: SqlIdentifier, name: SqlIdentifier }).strict(),
    key: z.array(SqlIdentifier).min(1).optional(),
    fields: z.array(FieldMapping).min(1),
    title: SqlIdentifier.optional(),
    cursor: CursorSpec,
    deletes: DeletesSpec.default({ mode: 'none' }),
    target: z
      .object({
        connectionId: id,
        siteId: SiteId,
        autoProvision: z.boolean().default(true),
      })
      .strict(),
    sharding: Sharding,
    schedule: z.string().max(120).nullable().default(null),
    maxRowsPerRun: z.number().int().min(1).max(1_000_000).default(50_000),
    maxAttempts: z.number().int().min(1).max(100).default(5),
    failover: FailoverSpec.default({ automatic: false, afterFailures: 3, holdDownMinutes: 30 }),
    drift: DriftSpec.default({ watch: false, schedule: null, mode: 'quick', autoRepair: [] }),
  })
  .strict();
export type SyncDefinitionInput = z.input<typeof SyncDefinitionInput>;
export type SyncDefinition = z.output<typeof SyncDefinitionInput>;

/** The connection id of the one primary source (the schema guarantees there is exactly one). */
export const primarySource = (def: Pick<SyncDefinition, 'sources'>): string => def.sources.find((s) => s.role === 'primary')!.connectionId;
