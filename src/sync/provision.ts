import type { Sharding } from '../core/definitions';
import { conflict, isSyncError, type FieldIssue } from '../core/errors';
import { sameJson } from '../core/json';
import { listSpecFor, resolveMapping, type ResolvedMapping } from '../core/mapping';
import type { ColumnSpec, EnsureListResult, ListTarget } from '../core/ports/list-target';
import type { TableSchema } from '../core/ports/source';
import type { StoredDefinition } from '../core/ports/state';
import type { SyncDeps } from './deps';
import { summariseMapping, type MappingSummary } from './definitions-admin';

/**
 * Provisioning (DESIGN §1, §4): resolve the definition against the table as it is now, then
 * make sure every list the definition will write exists with the columns the mapping needs.
 *
 * - A dry run reads only (source catalog, Graph lists and columns) and writes nothing anywhere.
 * - Apply checks everything first and changes nothing while any list has a conflict: an
 *   existing column of an incompatible type is never altered, and a list another definition
 *   writes is never bound (one list, one definition).
 * - Re-applying is a no-op: lists and columns are found, nothing is created, nothing stored.
 */

export type ProvisionDeps = Pick<SyncDeps, 'state' | 'source' | 'target' | 'log'>;

export interface ListConflict {
  column: string | null;
  reason: string;
  existingType?: string;
  wantedType?: string;
}

export interface ListProvisioning {
  /** Shard list display name. */
  list: string;
  /** Null when the list does not exist yet (dry run) . */
  listId: string | null;
  /** What provisioning does (dry run) or did (apply) to this list. */
  action: 'create' | 'addColumns' | 'none' | 'conflict';
  columnsToAdd: ColumnSpec[];
  /** Columns this call added (apply only). */
  columnsAdded: ColumnSpec[];
  conflicts: ListConflict[];
}

export interface ProvisioningReport {
  definitionId: string;
  dryRun: boolean;
  mapping: MappingSummary;
  /** After apply: the stored version; dry run: what apply would store. */
  mappingVersion: number;
  mappingChanged: boolean;
  lists: ListProvisioning[];
  /** Lists that are not known up front and are created by runs as rows need them. */
  onDemand: string | null;
  warnings: string[];
  /** True when apply created, added or stored anything (false on a dry run and on a re-apply). */
  changed: boolean;
}

/**
 * The lists known before any row is read. Date shards depend on the periods present in the
 * table, so runs create them on demand (reading the table's periods here would be a second,
 * unbounded query for little gain).
 */
export function listsKnownUpFront(sharding: Sharding): { lists: string[]; onDemand: string | null } {
  switch (sharding.strategy) {
    case 'none':
      return { lists: [sharding.list], onDemand: null };
    case 'rules':
      return { lists: [...sharding.rules.map((r) => r.list), sharding.default], onDemand: null };
    case 'hash':
      return { lists: Array.from({ length: sharding.buckets }, (_, i) => sharding.listTemplate.replace('{n}', String(i + 1))), onDemand: null };
    case 'date':
      return {
        lists: [],
        onDemand: `date sharding: one list per ${sharding.period} ("${sharding.listTemplate}"), created by runs as rows of each period arrive${sharding.nullList ? `; rows without a date go to "${sharding.nullList}"` : ''}`,
      };
  }
}

/** Case-insensitive, first spelling wins: SharePoint list titles are case-insensitive. */
function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, string>();
  for (const name of names) if (!seen.has(name.toLowerCase())) seen.set(name.toLowerCase(), name);
  return [...seen.values()];
}

function actionOf(result: EnsureListResult, ownedBy: string | null): ListProvisioning['action'] {
  if (ownedBy || result.conflicts.length) return 'conflict';
  if (result.created) return 'create';
  return result.columnsToAdd.length ? 'addColumns' : 'none';
}

function toListProvisioning(name: string, result: EnsureListResult, ownedBy: string | null): ListProvisioning {
  const conflicts: ListConflict[] = result.conflicts.map((c) => ({ column: c.column, reason: c.reason, existingType: c.existing.type, wantedType: c.wanted.type }));
  if (ownedBy) conflicts.unshift({ column: null, reason: `the list is already written by definition '${ownedBy}' (a list belongs to exactly one definition)` });
  return { list: name, listId: result.list?.id ?? null, action: actionOf(result, ownedBy), columnsToAdd: result.columnsToAdd, columnsAdded: result.added, conflicts };
}

interface Prepared {
  mapping: ResolvedMapping;
  schema: TableSchema;
  target: ListTarget;
  names: string[];
  onDemand: string | null;
  plans: ListProvisioning[];
  warnings: string[];
}

/** Resolves the mapping on a fresh schema and looks at every list without changing any. */
async function prepare(deps: ProvisionDeps, stored: StoredDefinition): Promise<Prepared> {
  const def = stored.definition;
  const schema = await (await deps.source(stored.activeSourceId)).describeTable(def.table);
  const mapping = resolveMapping(def, schema); // 422 with field details when the definition does not fit
  const target = await deps.target(def.target.connectionId);
  const upFront = listsKnownUpFront(def.sharding);
  // Lists runs created earlier (date shards) get new mapped columns too.
  const names = uniqueNames([...upFront.lists, ...Object.keys(stored.lists ?? {})]);

  const owners = new Map<string, string>();
  for (const other of await deps.state.listDefinitions()) {
    if (other.definition.id === def.id) continue;
    for (const listId of Object.values(other.lists ?? {})) owners.set(listId, other.definition.id);
  }
  const plans: ListProvisioning[] = [];
  for (const name of names) {
    const result = await target.ensureList(def.target.siteId, listSpecFor(name, mapping), { dryRun: true });
    plans.push(toListProvisioning(name, result, result.list ? (owners.get(result.list.id) ?? null) : null));
  }
  const warnings = mapping.fields.flatMap((f) => f.proposal.warnings.map((w) => `${f.source}: ${w}`));
  if (def.sharding.strategy === 'date' && !def.target.autoProvision) warnings.push('target.autoProvision is off, so runs cannot create the period lists of date sharding');
  return { mapping, schema, target, names, onDemand: upFront.onDemand, plans, warnings };
}

function nextMappingVersion(stored: StoredDefinition, mapping: ResolvedMapping): { version: number; changed: boolean } {
  const previousHash = (stored.mapping as { hash?: string } | undefined)?.hash;
  if (previousHash === undefined) return { version: Math.max(1, stored.mappingVersion), changed: true };
  if (previousHash !== mapping.hash) return { version: stored.mappingVersion + 1, changed: true };
  return { version: stored.mappingVersion, changed: false };
}

function report(stored: StoredDefinition, p: Prepared, dryRun: boolean, lists: ListProvisioning[], version: { version: number; changed: boolean }, changed: boolean): ProvisioningReport {
  return {
    definitionId: stored.definition.id,
    dryRun,
    mapping: summariseMapping(p.mapping),
    mappingVersion: version.version,
    mappingChanged: version.changed,
    lists,
    onDemand: p.onDemand,
    warnings: p.warnings,
    changed,
  };
}

/** The dry run: what apply would do, conflicts included. Writes nothing anywhere. */
export async function planProvisioning(deps: ProvisionDeps, stored: StoredDefinition): Promise<ProvisioningReport> {
  const prepared = await prepare(deps, stored);
  return report(stored, prepared, true, prepared.plans, nextMappingVersion(stored, prepared.mapping), false);
}

function conflictIssues(plans: ListProvisioning[]): FieldIssue[] {
  return plans.flatMap((p) =>
    p.conflicts.map((c) => ({ path: c.column ? `lists.${p.list}.columns.${c.column}` : `lists.${p.list}`, message: c.reason, code: c.column ? 'column_conflict' : 'list_owned_elsewhere' })),
  );
}

/** Creates the lists and columns, then stores mapping, snapshot and list ids on the definition. */
export async function applyProvisioning(deps: ProvisionDeps, stored: StoredDefinition): Promise<ProvisioningReport> {
  const def = stored.definition;
  const prepared = await prepare(deps, stored);
  const blocked = conflictIssues(prepared.plans);
  if (blocked.length) {
    throw conflict('provision', 'provisioning_conflict', `provisioning '${def.id}' would change lists it must not: nothing was changed; fix the conflicts (see the dry run) and apply again`, { details: blocked });
  }

  const lists: ListProvisioning[] = [];
  for (const name of prepared.names) {
    const result = await prepared.target.ensureList(def.target.siteId, listSpecFor(name, prepared.mapping));
    // Someone changed the list between the check and now: stop, with what was done so far recorded below.
    if (result.conflicts.length || !result.list) {
      throw conflict('provision', 'provisioning_conflict', `the list "${name}" changed while it was being provisioned; run the dry run again`, { details: conflictIssues([toListProvisioning(name, result, null)]) });
    }
    lists.push(toListProvisioning(name, result, null));
    if (result.created || result.added.length) deps.log.info('provisioned list', { definitionId: def.id, list: name, listId: result.list.id, created: result.created, columnsAdded: result.added.map((c) => c.name) });
  }

  const listIds = Object.fromEntries(lists.map((l) => [l.list, l.listId!]));
  const { saved, version } = await recordProvisioning(deps, stored, prepared, listIds);
  const touchedLists = lists.some((l) => l.action !== 'none');
  return report(saved, prepared, false, lists, version, touchedLists || version.changed || saved !== stored);
}

/**
 * Stores mapping, snapshot and list ids, guarded by the record's version: a run recording a new
 * shard list at the same moment is merged, not overwritten. Nothing is written when nothing
 * changed, which is what makes a re-apply a true no-op.
 */
async function recordProvisioning(
  deps: ProvisionDeps,
  stored: StoredDefinition,
  prepared: Prepared,
  listIds: Record<string, string>,
): Promise<{ saved: StoredDefinition; version: { version: number; changed: boolean } }> {
  let current = stored;
  for (let attempt = 0; ; attempt++) {
    const version = nextMappingVersion(current, prepared.mapping);
    const lists = { ...(current.lists ?? {}), ...listIds };
    const unchanged =
      !version.changed &&
      version.version === current.mappingVersion &&
      sameJson(lists, current.lists ?? {}) &&
      sameJson(prepared.schema, current.schemaSnapshot ?? null);
    if (unchanged) return { saved: current, version };
    try {
      const saved = await deps.state.putDefinition(
        { ...current, mapping: prepared.mapping, schemaSnapshot: prepared.schema, mappingVersion: version.version, lists },
        current.etag ? { ifMatch: current.etag } : {},
      );
      return { saved, version };
    } catch (error) {
      if (!isSyncError(error, 'state_conflict') || attempt >= 4) throw error;
      const fresh = await deps.state.getDefinition(stored.definition.id);
      if (!fresh) throw error;
      // The mapping was resolved for the definition as it was; a replaced definition needs a fresh look.
      if (!sameJson(fresh.definition, stored.definition)) {
        throw conflict('provision', 'state_conflict', `definition '${stored.definition.id}' was replaced while it was being provisioned; run provisioning again`);
      }
      current = fresh;
    }
  }
}
