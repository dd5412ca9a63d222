import { configError } from '../../core/errors';
import { listSpecFor, resolveMapping, type ResolvedMapping } from '../../core/mapping';
import type { ListTarget } from '../../core/ports/list-target';
import type { SourceDatabase, TableSchema } from '../../core/ports/source';
import type { StoredDefinition } from '../../core/ports/state';
import { diffSchemas } from '../../core/schema-diff';
import type { SyncDeps } from '../deps';

export interface CurrentMapping {
  stored: StoredDefinition;
  mapping: ResolvedMapping;
  schema: TableSchema;
  /** Dry run only: the mapping differs from the stored one (a real run bumps mappingVersion instead). */
  mappingChanged: boolean;
}

/** Resolves the mapping against the live schema; a breaking schema change stops the run naming it. */
export async function currentMapping(deps: SyncDeps, stored: StoredDefinition, source: SourceDatabase, target: ListTarget, dryRun: boolean): Promise<CurrentMapping> {
  const def = stored.definition;
  const schema = await source.describeTable(def.table);
  const previous = stored.mapping as ResolvedMapping | undefined;
  if (stored.schemaSnapshot && previous) {
    const diff = diffSchemas(stored.schemaSnapshot as TableSchema, schema, {
      fields: previous.fields.map((f) => ({ column: f.source, spType: f.spType })),
      key: previous.key,
      cursorColumn: def.cursor.column,
      other: previous.readColumns,
    });
    if (diff.hasBreaking) {
      throw configError('sync', 'schema_changed', `the table changed in a way the mapping cannot follow: ${diff.breaking.map((c) => c.message).join('; ')}`);
    }
    if (diff.additive.length) deps.log.info('additive schema changes', { definitionId: def.id, changes: diff.additive.map((c) => c.message) });
  }
  const mapping = resolveMapping(def, schema);
  if (previous?.hash === mapping.hash && stored.schemaSnapshot) return { stored, mapping, schema, mappingChanged: false };
  if (dryRun) return { stored, mapping, schema, mappingChanged: previous !== undefined && previous.hash !== mapping.hash };
  if (previous && previous.hash !== mapping.hash) {
    // The lists must have every mapped column before rows carrying it are written.
    for (const [name, listId] of Object.entries(stored.lists ?? {})) {
      const result = await target.ensureList(def.target.siteId, listSpecFor(name, mapping));
      if (result.conflicts.length) {
        throw configError('sync', 'column_conflict', `list "${name}" (${listId}) has columns that cannot hold the new mapping: ${result.conflicts.map((c) => `${c.column}: ${c.reason}`).join('; ')}`);
      }
    }
  }
  const next: StoredDefinition = {
    ...stored,
    mapping,
    schemaSnapshot: schema,
    mappingVersion: previous && previous.hash !== mapping.hash ? stored.mappingVersion + 1 : Math.max(1, stored.mappingVersion),
  };
  const saved = await deps.state.putDefinition(next, stored.etag ? { ifMatch: stored.etag } : {});
  return { stored: saved, mapping, schema, mappingChanged: false };
}
