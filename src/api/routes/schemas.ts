import { z } from 'zod';
import { SecretRef, SharePointConnectionInput, SiteId, SourceConnectionInput, SqlIdentifier, SyncDefinitionInput } from '../../core/definitions';

/**
 * The management API's own schemas: route parameters, query strings, bodies that differ from
 * the core's definitions (secrets, PUT without id), and response shapes for the OpenAPI
 * document. Request schemas validate every call; response schemas only document.
 */

// ---------------------------------------------------------------- route parameters

/** The same rule as every configuration id (letters, digits, "-", "_"). */
export const ConfigId = SourceConnectionInput.shape.id;

export const IdParams = z.object({ id: ConfigId });

/**
 * Schema and table names are only checked for shape here (length, no NUL); whether they exist
 * is decided by the catalog, queried with bound parameters, so nothing from the URL ever
 * reaches SQL as text.
 */
export const TableParams = z.object({ id: ConfigId, schema: SqlIdentifier, table: SqlIdentifier });

export { SiteId };
export const SiteParams = z.object({ id: ConfigId, siteId: SiteId });

export const RunId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'a run id as returned by POST /definitions/{id}/runs');
export const RunParams = z.object({ runId: RunId });

// ---------------------------------------------------------------- query strings

const booleanFlag = (defaultValue: 'true' | 'false') =>
  z
    .enum(['true', 'false'])
    .default(defaultValue)
    .transform((v) => v === 'true');

export const TablesQuery = z.object({ schema: SqlIdentifier.optional() });
export const SitesQuery = z.object({ search: z.string().max(200).optional() });
export const ProvisionQuery = z.object({ dryRun: booleanFlag('true').meta({ description: 'true (default): report what would change and change nothing' }) });
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  next: z.string().min(1).max(2000).optional().meta({ description: 'the `next` token of the previous page' }),
});
export const ReplaceDefinitionQuery = z.object({
  rebuild: booleanFlag('false').meta({
    description: 'true: accept a change of key, table or source engine although the lists hold items; the next runs delete the old items (through the ledger) and create them under the new identity',
  }),
});
export const FailuresQuery = z.object({ includeQuarantined: booleanFlag('false') });

// ---------------------------------------------------------------- bodies

/**
 * A source connection as posted: the password is accepted only when the deployment allows
 * secret writes (ALLOW_SECRET_WRITE); it is written to Key Vault and only its reference stored.
 */
export const SourceConnectionBody = SourceConnectionInput.extend({
  secretRef: SecretRef.optional().meta({ description: 'Key Vault secret holding the password or connection string; required unless `password` is sent' }),
  password: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .meta({ description: 'only when ALLOW_SECRET_WRITE=true: stored in Key Vault, replaced by its secretRef, never returned', writeOnly: true }),
});
export const SourceConnectionReplaceBody = SourceConnectionBody.partial({ id: true });
export const SharePointConnectionReplaceBody = SharePointConnectionInput.partial({ id: true });
export const SyncDefinitionReplaceBody = SyncDefinitionInput.partial({ id: true });

export const RunRequest = z.object({ mode: z.enum(['incremental', 'full', 'dryRun']).default('incremental') }).strict();

const IdentityHash = z.string().regex(/^[0-9a-f]{64}$/, 'an identity hash (64 lower-case hex characters)');
export const RetryFailuresRequest = z
  .object({ identityHashes: z.array(IdentityHash).min(1).max(1000).optional().meta({ description: 'rows to retry; all failures when absent' }) })
  .strict();

// ---------------------------------------------------------------- responses (documentation)

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().optional(),
    instance: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string(), code: z.string().optional() })).optional(),
  })
  .meta({ description: 'RFC 9457 problem details; `errors` names each offending field' });

const Timestamps = { createdAt: z.string().optional(), updatedAt: z.string().optional() };

export const SourceConnectionView = SourceConnectionInput.extend(Timestamps);
export const SharePointConnectionView = SharePointConnectionInput.extend(Timestamps);

export const MappingSummarySchema = z.object({
  key: z.array(z.string()),
  title: z.string().nullable(),
  fields: z.array(
    z.object({
      source: z.string(),
      target: z.string(),
      displayName: z.string(),
      type: z.string(),
      maxLength: z.number().optional(),
      decimalPlaces: z.number().optional(),
      choices: z.array(z.string()).optional(),
      reason: z.string(),
      warnings: z.array(z.string()),
    }),
  ),
  hash: z.string(),
});

export const DefinitionView = z.object({
  definition: SyncDefinitionInput,
  mappingVersion: z.number().int().meta({ description: '0 until provisioned or first run' }),
  activeSourceId: z.string(),
  lists: z.record(z.string(), z.string()).meta({ description: 'shard list display name → list id' }),
  mapping: MappingSummarySchema.nullable(),
  rebuild: z
    .object({ requestedAt: z.string(), reason: z.string() })
    .nullable()
    .meta({ description: 'a rebuild asked for with ?rebuild=true that has not finished deleting the old items yet' }),
  ...Timestamps,
});

export const ListOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });
export const PageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next: z.string().optional() });

export const TableSummarySchema = z.object({ schema: z.string(), name: z.string(), kind: z.enum(['table', 'view']) });

const ColumnWithProposal = z.object({
  name: z.string(),
  ordinal: z.number().int(),
  dataType: z.string(),
  nativeType: z.string(),
  nullable: z.boolean(),
  maxLength: z.number().nullable(),
  precision: z.number().nullable(),
  scale: z.number().nullable(),
  default: z.string().nullable(),
  isIdentity: z.boolean(),
  isGenerated: z.boolean(),
  isRowVersion: z.boolean(),
  enumValues: z.array(z.string()).nullable(),
  proposed: z.object({
    name: z.string(),
    spType: z.string().nullable(),
    supported: z.boolean(),
    maxLength: z.number().optional(),
    decimalPlaces: z.number().optional(),
    choices: z.array(z.string()).optional(),
    reason: z.string(),
    warnings: z.array(z.string()),
  }),
});

export const TableDescriptionSchema = z.object({
  engine: z.enum(['postgres', 'sqlserver']),
  table: z.object({ schema: z.string(), name: z.string() }),
  kind: z.enum(['table', 'view']),
  columns: z.array(ColumnWithProposal),
  primaryKey: z.array(z.string()).nullable(),
  defaultKey: z.array(z.string()).nullable(),
  uniqueConstraints: z.array(z.object({ name: z.string(), columns: z.array(z.string()) })),
  indexes: z.array(z.object({ name: z.string(), columns: z.array(z.string().nullable()), unique: z.boolean(), primary: z.boolean(), predicate: z.string().nullable() })),
});

export const SourceHealthSchema = z.object({ ok: z.boolean(), latencyMs: z.number(), serverVersion: z.string().optional(), error: z.string().optional(), errorCode: z.string().optional() });
export const SiteSchema = z.object({ id: z.string(), displayName: z.string(), webUrl: z.string() });
export const ListSchema = z.object({ id: z.string(), displayName: z.string(), webUrl: z.string().optional() });

export const ValidationReportSchema = z.object({
  definitionId: z.string(),
  valid: z.literal(true),
  sourceId: z.string(),
  table: z.object({ schema: z.string(), name: z.string(), kind: z.enum(['table', 'view']) }),
  site: SiteSchema,
  mapping: MappingSummarySchema,
  warnings: z.array(z.string()),
});

const ColumnSpecSchema = z.object({ name: z.string(), displayName: z.string().optional(), type: z.string(), maxLength: z.number().optional(), decimalPlaces: z.number().optional(), choices: z.array(z.string()).optional() });
export const ProvisioningReportSchema = z.object({
  definitionId: z.string(),
  dryRun: z.boolean(),
  mapping: MappingSummarySchema,
  mappingVersion: z.number().int(),
  mappingChanged: z.boolean(),
  lists: z.array(
    z.object({
      list: z.string(),
      listId: z.string().nullable(),
      action: z.enum(['create', 'addColumns', 'none', 'conflict']),
      columnsToAdd: z.array(ColumnSpecSchema),
      columnsAdded: z.array(ColumnSpecSchema),
      conflicts: z.array(z.object({ column: z.string().nullable(), reason: z.string(), existingType: z.string().optional(), wantedType: z.string().optional() })),
    }),
  ),
  onDemand: z.string().nullable(),
  warnings: z.array(z.string()),
  changed: z.boolean(),
});

export const RunAccepted = z.object({ runId: z.string(), statusUrl: z.string() });

const Counts = z.object({ read: z.number(), created: z.number(), updated: z.number(), unchanged: z.number(), moved: z.number(), deleted: z.number(), failed: z.number() });
export const RunSchema = z.object({
  runId: z.string(),
  definitionId: z.string(),
  mode: z.enum(['incremental', 'full', 'dryRun']),
  trigger: z.enum(['schedule', 'manual', 'continuation', 'retry']),
  status: z.enum(['queued', 'running', 'succeeded', 'partial', 'failed', 'refused', 'cancelled']),
  sourceId: z.string().optional(),
  startedAt: z.string(),
  finishedAt: z.string().nullable().optional(),
  counts: Counts,
  batchesExpected: z.number(),
  batchesSettled: z.number(),
  error: z.string().nullable().optional(),
  plan: z.unknown().optional(),
  waitingUntil: z.string().nullable().optional().describe('while the run waits (throttling, a planning retry): until when'),
  waitingReason: z.string().nullable().optional().describe('why the run waits'),
  progressAt: z.string().nullable().optional().describe('last time a batch settled or planning advanced'),
  ruSpent: z.number().int().optional().describe("SharePoint resource units the run's Graph requests cost (planning, writes, moves; throttled attempts included)"),
});

// ---------------------------------------------------------------- dry-run plans and RU

const PlannedOpName = z.enum(['create', 'update', 'move', 'delete']);
export const PlanQuery = z.object({
  op: PlannedOpName.optional().meta({ description: 'only this operation' }),
  list: z.string().min(1).max(255).optional().meta({ description: 'only this shard list (its display name, as in `lists`)' }),
  page: z.coerce.number().int().min(0).max(999_999).default(0).meta({ description: 'page number, from 0; `pages` says how many the filter matches' }),
});
const PlanCountsSchema = z.object({ create: z.number(), update: z.number(), move: z.number(), delete: z.number(), unchanged: z.number() });
export const PlannedOpSchema = z.object({
  op: PlannedOpName,
  identityHash: z.string(),
  key: z.array(z.unknown()).describe("the row's key values"),
  list: z.string().describe('the shard list the op is for (a move: the list the item moves to)'),
  fromList: z.string().optional().describe('a move: the list the item is in now'),
  fields: z.record(z.string(), z.unknown()).optional().describe('creates and moves: every field; updates: the new values of the fields that would change (every field when changedFields is null)'),
  changedFields: z
    .array(z.string())
    .nullable()
    .optional()
    .describe('updates: the fields that would change; null when the ledger cannot tell (after a mapping change, or content in doubt), and every field is written. Old values are not known: the ledger keeps hashes, not values'),
});
export const PlanPageSchema = z.object({
  runId: z.string(),
  definitionId: z.string(),
  page: z.number().int(),
  pages: z.number().int().describe('pages the filter matches'),
  total: z.number().int().describe('ops the filter matches'),
  items: z.array(PlannedOpSchema),
  lists: z.array(z.string()).describe('every shard list the plan names'),
  byList: z.record(z.string(), PlanCountsSchema),
});
export const RuPerHourQuery = z.object({ hours: z.coerce.number().int().min(1).max(168).default(24).meta({ description: 'hours back from now, 1–168' }) });
export const RuPerHourSchema = z.object({
  hours: z.array(z.string()).describe('the start of each UTC hour, oldest first'),
  tenants: z.array(z.object({ tenantId: z.string(), ru: z.array(z.number()).describe('RU per hour, aligned with hours'), total: z.number(), runs: z.number().int().describe('runs counted') })),
});

export const FailureSchema = z.object({
  definitionId: z.string(),
  identityHash: z.string(),
  key: z.array(z.unknown()),
  attempts: z.number(),
  lastError: z.string(),
  lastRunId: z.string().optional(),
  quarantined: z.boolean(),
  firstFailedAt: z.string(),
  lastFailedAt: z.string(),
});

const ItemRef = z.object({ listId: z.string(), itemId: z.string() });
export const MoveSchema = z.object({ definitionId: z.string(), moveId: z.string(), identityHash: z.string(), from: ItemRef, to: ItemRef, runId: z.string().optional(), at: z.string() });
export const RetryAccepted = z.object({ retried: z.number().int().meta({ description: 'failures released for the next run' }) });
