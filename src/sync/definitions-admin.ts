import { createHash } from 'node:crypto';
import { primarySource, type SharePointConnection, type SourceConnection, type SyncDefinition } from '../core/definitions';
import { configError, conflict, isSyncError, notFound, SyncError, type FieldIssue } from '../core/errors';
import { ColumnNames, resolveMapping, sanitiseColumnName, type ResolvedMapping } from '../core/mapping';
import { isValidNcrontab } from '../core/ncrontab';
import type { RunMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import type { Secrets } from '../core/ports/secrets';
import { defaultKey, type ColumnInfo, type SourceDatabase, type TableRef, type TableSchema } from '../core/ports/source';
import { emptyRunCounts, type StoredDefinition, type StoredSharePoint, type StoredSource, type Versioned } from '../core/ports/state';
import { proposeColumn, type ColumnProposal } from '../core/typemap';
import type { SyncDeps } from './deps';
import { holdsItems, identityChangeRefused, identityChanges } from './identity-change';
import { newRunMessage } from './plan-run';
import { deleteOlderPlans } from './plan/plan-pages';

/**
 * Administration of connections and definitions (DESIGN §3, §8): the rules behind the
 * management API's writes. Handlers parse and map; everything that decides lives here:
 * optimistic concurrency, referential integrity, secrets that must never be stored, and the
 * checks a definition must pass before it is kept.
 */

const MODULE = 'admin';

export interface AdminDeps extends SyncDeps {
  secrets: Secrets;
  /** ALLOW_SECRET_WRITE: a posted password is written to the secret store and replaced by its reference. */
  allowSecretWrite: boolean;
}

// ---------------------------------------------------------------- optimistic concurrency

/** `If-Match`: `*` (any current version) or the store versions the client holds. */
export type IfMatch = '*' | string[];

/**
 * Table Storage ETags come back spelled differently by different calls (the timestamp inside
 * may or may not be percent-encoded); comparing the decoded form keeps one version one version.
 */
function sameVersion(a: string, b: string): boolean {
  const normalise = (etag: string) => {
    const bare = etag.trim().replace(/^W\//, '');
    try {
      return decodeURIComponent(bare);
    } catch {
      return bare;
    }
  };
  return normalise(a) === normalise(b);
}

export const preconditionFailed = (what: string) =>
  new SyncError(`${what} was changed since you read it (ETag mismatch): GET it again and retry`, { code: 'precondition_failed', module: MODULE, errorClass: 'config', status: 412 });

function checkIfMatch(current: Versioned, ifMatch: IfMatch | undefined, what: string): void {
  if (ifMatch === undefined || ifMatch === '*') return;
  if (!current.etag || !ifMatch.some((tag) => sameVersion(tag, current.etag!))) throw preconditionFailed(what);
}

/**
 * Read-modify-write with the store's own version as the guard, so a concurrent writer (a run
 * recording a new shard list, say) is never overwritten. Without `If-Match` from the client a
 * lost race is simply retried on the fresh record; with one, it is the client's 412.
 */
async function replaceGuarded<T extends Versioned>(
  what: string,
  load: () => Promise<T | null>,
  notFoundError: () => Error,
  ifMatch: IfMatch | undefined,
  build: (current: T) => Promise<T> | T,
  save: (next: T, opts: { ifMatch?: string }) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const current = await load();
    if (!current) throw notFoundError();
    checkIfMatch(current, ifMatch, what);
    const next = await build(current);
    try {
      return await save(next, current.etag ? { ifMatch: current.etag } : {});
    } catch (error) {
      if (!isSyncError(error, 'state_conflict')) throw error;
      if (ifMatch !== undefined && ifMatch !== '*') throw preconditionFailed(what);
      if (attempt >= 4) throw error;
    }
  }
}

/**
 * The store's delete takes no version, so the check and the delete are two steps; the window
 * between them is a single round trip, and a delete is not a lost update.
 */
async function deleteGuarded<T extends Versioned>(
  what: string,
  current: T | null,
  notFoundError: () => Error,
  ifMatch: IfMatch | undefined,
  remove: () => Promise<boolean>,
  refuse: () => Promise<void> = async () => undefined,
): Promise<void> {
  if (!current) throw notFoundError();
  checkIfMatch(current, ifMatch, what);
  await refuse();
  if (!(await remove())) throw notFoundError();
}

async function createOnce<T>(what: string, exists: () => Promise<unknown>, save: () => Promise<T>): Promise<T> {
  if (await exists()) throw conflict(MODULE, 'already_exists', `${what} already exists: PUT to replace it, or choose another id`);
  try {
    return await save();
  } catch (error) {
    if (isSyncError(error, 'state_conflict')) throw conflict(MODULE, 'already_exists', `${what} already exists: PUT to replace it, or choose another id`);
    throw error;
  }
}

function checkSameId(routeId: string, bodyId: string | undefined): void {
  if (bodyId !== undefined && bodyId !== routeId) {
    throw configError(MODULE, 'id_mismatch', 'the body names another id than the URL', { details: [{ path: 'id', message: `must be "${routeId}" (the id in the URL) or left out`, code: 'id_mismatch' }] });
  }
}

// ---------------------------------------------------------------- source connections

/** A source connection as posted: a `secretRef`, or (when the deployment allows it) a `password`. */
export type SourceConnectionSubmission = Omit<SourceConnection, 'secretRef' | 'id'> & { id?: string; secretRef?: string; password?: string };

/**
 * Where a posted password goes: one secret per connection, named from the id. The hash suffix
 * keeps ids that differ only in "_" vs "-" (secret names allow no "_") from sharing a secret.
 */
export function secretNameForSource(connectionId: string): string {
  const readable = connectionId.replace(/_/g, '-').slice(0, 64);
  const suffix = createHash('sha256').update(connectionId).digest('hex').slice(0, 8);
  return `source-${readable}-${suffix}`;
}

/** Turns a submission into the record to store: never a password, always a `secretRef`. */
async function sourceRecord(deps: AdminDeps, id: string, submission: SourceConnectionSubmission): Promise<SourceConnection> {
  const { password, secretRef, id: _ignored, ...rest } = submission;
  if (password === undefined) {
    if (!secretRef) throw configError(MODULE, 'secret_ref_required', 'a secretRef is required', { details: [{ path: 'secretRef', message: 'name the Key Vault secret that holds the password or connection string', code: 'required' }] });
    return { id, ...rest, secretRef };
  }
  if (!deps.allowSecretWrite) {
    throw configError(MODULE, 'secret_write_disabled', 'secrets are accepted only as a secretRef', {
      details: [{ path: 'password', message: 'not accepted here: store the password in Key Vault and send its name as secretRef (or enable ALLOW_SECRET_WRITE)', code: 'secret_write_disabled' }],
    });
  }
  if (secretRef) {
    throw configError(MODULE, 'secret_ambiguous', 'send either secretRef or password, not both', { details: [{ path: 'password', message: 'send either secretRef or password, not both', code: 'ambiguous' }] });
  }
  const ref = await deps.secrets.set(secretNameForSource(id), password);
  return { id, ...rest, secretRef: ref };
}

export async function createSource(deps: AdminDeps, submission: SourceConnectionSubmission & { id: string }): Promise<StoredSource> {
  // The secret is written only after the existence check: a duplicate POST must not overwrite the secret of the connection already there.
  return createOnce(
    `source connection '${submission.id}'`,
    () => deps.state.getSource(submission.id),
    async () => deps.state.putSource(await sourceRecord(deps, submission.id, submission), { mustNotExist: true }),
  );
}

export async function replaceSource(deps: AdminDeps, id: string, submission: SourceConnectionSubmission, ifMatch?: IfMatch): Promise<StoredSource> {
  checkSameId(id, submission.id);
  const what = `source connection '${id}'`;
  const current = await deps.state.getSource(id);
  if (!current) throw notFound(MODULE, 'source connection', id);
  checkIfMatch(current, ifMatch, what); // before a secret is (re)written
  const record = await sourceRecord(deps, id, submission);
  return replaceGuarded(what, () => deps.state.getSource(id), () => notFound(MODULE, 'source connection', id), ifMatch, (c) => ({ ...record, createdAt: c.createdAt }), (next, opts) => deps.state.putSource(next, opts));
}

export async function deleteSource(deps: AdminDeps, id: string, ifMatch?: IfMatch): Promise<void> {
  const what = `source connection '${id}'`;
  await deleteGuarded(what, await deps.state.getSource(id), () => notFound(MODULE, 'source connection', id), ifMatch, () => deps.state.deleteSource(id), () => refuseIfReferenced(deps, id, 'source', what));
}

// ---------------------------------------------------------------- SharePoint connections

export type SharePointSubmission = Omit<SharePointConnection, 'id'> & { id?: string };

export async function createSharePoint(deps: AdminDeps, conn: SharePointConnection): Promise<StoredSharePoint> {
  return createOnce(`SharePoint connection '${conn.id}'`, () => deps.state.getSharePoint(conn.id), () => deps.state.putSharePoint(conn, { mustNotExist: true }));
}

export async function replaceSharePoint(deps: AdminDeps, id: string, submission: SharePointSubmission, ifMatch?: IfMatch): Promise<StoredSharePoint> {
  checkSameId(id, submission.id);
  const record: SharePointConnection = { ...submission, id };
  return replaceGuarded(`SharePoint connection '${id}'`, () => deps.state.getSharePoint(id), () => notFound(MODULE, 'SharePoint connection', id), ifMatch, (c) => ({ ...record, createdAt: c.createdAt }), (next, opts) => deps.state.putSharePoint(next, opts));
}

export async function deleteSharePoint(deps: AdminDeps, id: string, ifMatch?: IfMatch): Promise<void> {
  const what = `SharePoint connection '${id}'`;
  await deleteGuarded(what, await deps.state.getSharePoint(id), () => notFound(MODULE, 'SharePoint connection', id), ifMatch, () => deps.state.deleteSharePoint(id), () => refuseIfReferenced(deps, id, 'sharepoint', what));
}

/** A connection a definition uses cannot go: the definition's next run would fail with nothing to show why. */
async function refuseIfReferenced(deps: AdminDeps, connectionId: string, kind: 'source' | 'sharepoint', what: string): Promise<void> {
  const users = (await deps.state.listDefinitions())
    .filter(({ definition: d }) => (kind === 'source' ? d.sources.some((s) => s.connectionId === connectionId) : d.target.connectionId === connectionId))
    .map((d) => d.definition.id);
  if (users.length) throw conflict(MODULE, 'connection_in_use', `${what} is used by definition${users.length > 1 ? 's' : ''} ${users.join(', ')}: change or delete ${users.length > 1 ? 'them' : 'it'} first`);
}

// ---------------------------------------------------------------- sources: introspection

export interface ProposedColumn extends ColumnInfo {
  /** What provisioning would create for this column by default. */
  proposed: Pick<ColumnProposal, 'spType' | 'supported' | 'maxLength' | 'decimalPlaces' | 'choices' | 'reason' | 'warnings'> & { name: string };
}

export interface TableDescription extends Omit<TableSchema, 'columns'> {
  columns: ProposedColumn[];
  /** The key a definition gets when it names none (primary key, else a NOT NULL unique constraint). */
  defaultKey: string[] | null;
}

/**
 * `{schema}.{table}` in a URL is ambiguous when a name holds a dot, and hosts split it
 * differently (the local router at the first dot, ASP.NET routing at the last). The catalog
 * decides: each split whose schema exists is tried, as the route gave it first.
 */
async function describeQualified(source: SourceDatabase, given: TableRef): Promise<TableSchema> {
  try {
    return await source.describeTable(given);
  } catch (notThere) {
    const qualified = `${given.schema}.${given.name}`;
    const dots = [...qualified.matchAll(/\./g)].map((m) => m.index);
    if (!isSyncError(notThere, 'unknown_table') || dots.length < 2) throw notThere;
    const schemas = new Set(await source.listSchemas());
    const others = dots.map((i) => ({ schema: qualified.slice(0, i), name: qualified.slice(i + 1) })).filter((t) => t.schema !== given.schema && schemas.has(t.schema));
    for (const candidate of others) {
      try {
        return await source.describeTable(candidate);
      } catch (error) {
        if (!isSyncError(error, 'unknown_table')) throw error;
      }
    }
    throw notThere;
  }
}

/**
 * The table as introspected (names checked against the catalog, never spliced into SQL) plus the
 * default SharePoint column for each column, named as provisioning would name it when every
 * supported column is mapped in table order (unsupported ones are named after them).
 */
export async function describeSourceTable(deps: Pick<AdminDeps, 'source'>, connectionId: string, table: TableRef): Promise<TableDescription> {
  const schema = await describeQualified(await deps.source(connectionId), table);
  const proposals = schema.columns.map((column) => proposeColumn(column));
  const names = new ColumnNames();
  const supportedNames = new Map(schema.columns.flatMap((column, i) => (proposals[i]!.supported ? [[i, names.claim(sanitiseColumnName(column.name))] as const] : [])));
  return {
    ...schema,
    defaultKey: defaultKey(schema),
    columns: schema.columns.map((column, i) => {
      const p = proposals[i]!;
      const name = supportedNames.get(i) ?? names.claim(sanitiseColumnName(column.name));
      return { ...column, proposed: { name, spType: p.spType, supported: p.supported, maxLength: p.maxLength, decimalPlaces: p.decimalPlaces, choices: p.choices, reason: p.reason, warnings: p.warnings } };
    }),
  };
}

// ---------------------------------------------------------------- definitions

export type DefinitionSubmission = Omit<SyncDefinition, 'id'> & { id?: string };

/** Checks that need no I/O beyond the state store: referenced connections exist, the schedule parses. */
async function definitionIssues(deps: AdminDeps, def: SyncDefinition): Promise<FieldIssue[]> {
  const issues: FieldIssue[] = [];
  const sources = await Promise.all(def.sources.map((s) => deps.state.getSource(s.connectionId)));
  sources.forEach((found, i) => {
    if (!found) issues.push({ path: `sources.${i}.connectionId`, message: `source connection '${def.sources[i]!.connectionId}' does not exist`, code: 'unknown_connection' });
  });
  if (!(await deps.state.getSharePoint(def.target.connectionId))) {
    issues.push({ path: 'target.connectionId', message: `SharePoint connection '${def.target.connectionId}' does not exist`, code: 'unknown_connection' });
  }
  if (def.schedule !== null) {
    const problem = isValidNcrontab(def.schedule);
    if (problem) issues.push({ path: 'schedule', message: `not a six-field NCRONTAB expression ("{second} {minute} {hour} {day} {month} {day-of-week}"): ${problem}`, code: 'invalid_schedule' });
  }
  return issues;
}

const unfit = (issues: FieldIssue[]) => configError(MODULE, 'invalid_definition', 'the definition cannot be kept as it is', { status: 422, details: issues });

export async function createDefinition(deps: AdminDeps, def: SyncDefinition): Promise<StoredDefinition> {
  const issues = await definitionIssues(deps, def);
  if (issues.length) throw unfit(issues);
  // mappingVersion 0 = never provisioned; provisioning (or the first run) makes it 1.
  const stored: StoredDefinition = { definition: def, mappingVersion: 0, activeSourceId: primarySource(def) };
  return createOnce(`definition '${def.id}'`, () => deps.state.getDefinition(def.id), () => deps.state.putDefinition(stored, { mustNotExist: true }));
}

const sameTable = (a: TableRef, b: TableRef) => a.schema === b.schema && a.name === b.name;

/**
 * Replaces the admin's part of a definition and keeps what the system learnt (mapping, lists,
 * snapshot). A changed field mapping needs nothing here: its hash differs, so the next run
 * bumps `mappingVersion` and rescans. A changed table does: the snapshot belongs to the old
 * table and the cursor to its rows, so both are invalidated. A changed identity (key, table,
 * source engine) of a definition with items is refused unless `rebuild` is asked for: then the
 * definition is marked, and its next full passes delete the old items through the ledger.
 */
export async function replaceDefinition(deps: AdminDeps, id: string, submission: DefinitionSubmission, ifMatch?: IfMatch, opts: { rebuild?: boolean } = {}): Promise<StoredDefinition> {
  checkSameId(id, submission.id);
  const def: SyncDefinition = { ...submission, id };
  const issues = await definitionIssues(deps, def);
  if (issues.length) throw unfit(issues);
  return replaceGuarded(
    `definition '${id}'`,
    () => deps.state.getDefinition(id),
    () => notFound(MODULE, 'definition', id),
    ifMatch,
    async (current) => {
      const before = current.definition;
      const retargeted = before.target.connectionId !== def.target.connectionId || before.target.siteId !== def.target.siteId;
      // The ledger points at items in the lists already written; pointing the definition elsewhere would orphan them.
      if (retargeted && Object.keys(current.lists ?? {}).length > 0) {
        throw conflict(MODULE, 'target_change_refused', `definition '${id}' already writes to lists in site '${before.target.siteId}': create a new definition to sync into another site or connection`, {
          details: [{ path: 'target', message: 'cannot change once lists are provisioned', code: 'target_change_refused' }],
        });
      }
      const tableChanged = !sameTable(before.table, def.table);
      refusePrimaryChange(current, def);
      const activeSourceId = primarySource(def);
      const changes = await identityChanges(deps.state, current, def, activeSourceId);
      const rebuilding = changes.length > 0 && (await holdsItems(deps.state, id));
      if (rebuilding && !opts.rebuild) throw identityChangeRefused(id, changes);
      return {
        ...current,
        definition: def,
        activeSourceId,
        schemaSnapshot: tableChanged ? undefined : current.schemaSnapshot,
        mappingVersion: (tableChanged || rebuilding) && current.mappingVersion > 0 ? current.mappingVersion + 1 : current.mappingVersion,
        ...(rebuilding ? { rebuild: { requestedAt: deps.now().toISOString(), reason: changes.map((c) => c.message).join('; ') } } : {}),
      };
    },
    (next, opts) => deps.state.putDefinition(next, opts),
  );
}

/**
 * The primary changes only by failover, which probes the target and sets its cursor; a PUT
 * naming another primary (often one read before a failover) would bypass both. A primary that
 * is no longer listed at all may be replaced: its cursor does not apply to the new one.
 */
function refusePrimaryChange(current: StoredDefinition, def: SyncDefinition): void {
  const primaryNow = primarySource(current.definition);
  if (primarySource(def) === primaryNow || !def.sources.some((s) => s.connectionId === primaryNow)) return;
  throw conflict(MODULE, 'primary_change_refused', `'${primaryNow}' is the primary of definition '${def.id}': change it with POST /definitions/${def.id}/failover`, {
    details: [{ path: 'sources', message: `the primary is '${primaryNow}'`, code: 'primary_change_refused' }],
  });
}

export async function deleteDefinition(deps: AdminDeps, id: string, ifMatch?: IfMatch): Promise<void> {
  await deleteGuarded(`definition '${id}'`, await deps.state.getDefinition(id), () => notFound(MODULE, 'definition', id), ifMatch, () => deps.state.deleteDefinition(id));
  // The stored plans of its dry runs go with it; the run records stay, as its history.
  await deleteOlderPlans(deps, id, { keep: 0, scanRuns: Infinity });
}

export async function requireDefinition(deps: Pick<AdminDeps, 'state'>, id: string): Promise<StoredDefinition> {
  const stored = await deps.state.getDefinition(id);
  if (!stored) throw notFound(MODULE, 'definition', id);
  return stored;
}

/** What the API shows of a resolved mapping: enough to review it, without the raw column records. */
export interface MappingSummary {
  key: string[];
  title: string | null;
  fields: Array<{ source: string; target: string; displayName: string; type: string; maxLength?: number; decimalPlaces?: number; choices?: string[]; reason: string; warnings: string[] }>;
  hash: string;
}

export function summariseMapping(mapping: ResolvedMapping): MappingSummary {
  return {
    key: mapping.key,
    title: mapping.title?.source ?? null,
    fields: mapping.fields.map((f) => ({
      source: f.source,
      target: f.target,
      displayName: f.displayName,
      type: f.spType,
      ...(f.proposal.maxLength !== undefined ? { maxLength: f.proposal.maxLength } : {}),
      ...(f.proposal.decimalPlaces !== undefined ? { decimalPlaces: f.proposal.decimalPlaces } : {}),
      ...(f.proposal.choices ? { choices: f.proposal.choices } : {}),
      reason: f.proposal.reason,
      warnings: f.proposal.warnings,
    })),
    hash: mapping.hash,
  };
}

export interface ValidationReport {
  definitionId: string;
  valid: true;
  sourceId: string;
  table: TableRef & { kind: 'table' | 'view' };
  site: { id: string; displayName: string; webUrl: string };
  mapping: MappingSummary;
  warnings: string[];
}

/**
 * `POST /definitions/{id}/validate`: everything a run would trip over, found now. All problems
 * are collected and reported together (422 with one detail each), so an admin fixes them in
 * one round; nothing is stored.
 */
export async function validateDefinition(deps: AdminDeps, id: string): Promise<ValidationReport> {
  const stored = await requireDefinition(deps, id);
  const def = stored.definition;
  const issues = await definitionIssues(deps, def);
  const warnings: string[] = [];
  let mapping: ResolvedMapping | undefined;
  let schema: TableSchema | undefined;
  const sourceIndex = def.sources.findIndex((s) => s.connectionId === stored.activeSourceId);
  if (!issues.some((i) => i.path === `sources.${sourceIndex}.connectionId`)) {
    try {
      schema = await (await deps.source(stored.activeSourceId)).describeTable(def.table);
      mapping = resolveMapping(def, schema);
      mapping.fields.forEach((f, i) => f.proposal.warnings.forEach((w) => warnings.push(`fields.${i} (${f.source}): ${w}`)));
    } catch (error) {
      if (!(error instanceof SyncError) || error.transient) throw error;
      if (error.code === 'unknown_table') issues.push({ path: 'table', message: error.message, code: 'unknown_table' });
      else if (error.details.length && error.code !== 'secret_missing') issues.push(...error.details);
      else issues.push({ path: `sources.${sourceIndex}.connectionId`, message: error.message, code: error.code });
    }
  }
  let site: ValidationReport['site'] | undefined;
  if (!issues.some((i) => i.path === 'target.connectionId')) {
    try {
      site = await (await deps.target(def.target.connectionId)).getSite(def.target.siteId);
    } catch (error) {
      if (!(error instanceof SyncError) || error.transient) throw error;
      issues.push({ path: 'target.siteId', message: error.message, code: error.code });
    }
  }
  if (def.sharding.strategy === 'date' && !def.target.autoProvision) {
    warnings.push('date sharding creates a list per period as rows arrive, but target.autoProvision is off: rows of a new period will fail until their list exists');
  }
  if (issues.length || !mapping || !schema || !site) throw configError(MODULE, 'invalid_definition', `definition '${id}' is not ready to run`, { status: 422, details: issues });
  return {
    definitionId: id,
    valid: true,
    sourceId: stored.activeSourceId,
    table: { ...schema.table, kind: schema.kind },
    site: { id: site.id, displayName: site.displayName, webUrl: site.webUrl },
    mapping: summariseMapping(mapping),
    warnings,
  };
}

// ---------------------------------------------------------------- runs

export async function requestRun(deps: SyncDeps, id: string, mode: RunMessage['mode'], trigger: RunMessage['trigger'] = 'manual'): Promise<RunMessage> {
  const stored = await requireDefinition(deps, id);
  // A disabled definition writes nothing; a dry run writes nothing anyway, so it stays allowed.
  if (!stored.definition.enabled && mode !== 'dryRun') {
    throw conflict(MODULE, 'definition_disabled', `definition '${id}' is disabled: enable it, or ask for a dryRun`);
  }
  const message = newRunMessage(id, mode, trigger, deps.now());
  // Recorded as `queued` at once, so GET /runs/{runId} answers before the planner picks it up.
  await deps.state.createRun({
    runId: message.runId,
    definitionId: id,
    mode,
    trigger,
    status: 'queued',
    sourceId: stored.activeSourceId,
    startedAt: message.requestedAt,
    counts: emptyRunCounts(),
    batchesExpected: 0,
    batchesSettled: 0,
  });
  // Session = definition: the planner takes one run of a definition at a time.
  await deps.bus.send(QUEUES.runs, [{ body: message, messageId: message.runId, sessionId: id }]);
  deps.log.info('run requested', { definitionId: id, runId: message.runId, mode });
  return message;
}
