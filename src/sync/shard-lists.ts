import { conflict, skippableError, isSyncError } from '../core/errors';
import { listSpecFor, type ResolvedMapping } from '../core/mapping';
import type { ListTarget } from '../core/ports/list-target';
import type { StoredDefinition } from '../core/ports/state';
import type { SyncDeps } from './deps';

/** A shard list by id, or (dry run only) a list the real run would provision and so has no id yet. */
export type ResolvedShardList = { kind: 'provisioned'; listId: string } | { kind: 'wouldProvision' };

/**
 * Shard list display name → list id for one definition, provisioning a new shard's list on
 * first use when the definition allows it. Ids are remembered on the definition so a normal
 * run never reads SharePoint to find its lists.
 */
export class ShardLists {
  private readonly known = new Map<string, string>();
  private readonly wouldCreate = new Set<string>();

  constructor(
    private readonly deps: SyncDeps,
    private stored: StoredDefinition,
    private readonly mapping: ResolvedMapping,
    private readonly target: ListTarget,
    private readonly dryRun = false,
  ) {
    for (const [name, id] of Object.entries(stored.lists ?? {})) this.known.set(name.toLowerCase(), id);
  }

  async resolve(displayName: string): Promise<ResolvedShardList> {
    const cached = this.known.get(displayName.toLowerCase());
    if (cached) return { kind: 'provisioned', listId: cached };
    const def = this.stored.definition;
    if (this.dryRun) {
      if (this.wouldCreate.has(displayName.toLowerCase())) return { kind: 'wouldProvision' };
      const existing = await this.target.findList(def.target.siteId, displayName);
      if (!existing) {
        this.wouldCreate.add(displayName.toLowerCase());
        return { kind: 'wouldProvision' };
      }
      this.known.set(displayName.toLowerCase(), existing.id);
      return { kind: 'provisioned', listId: existing.id };
    }
    if (!def.target.autoProvision) {
      throw skippableError('sync', 'shard_list_missing', `the shard list "${displayName}" is not provisioned and autoProvision is off`);
    }
    const result = await this.target.ensureList(def.target.siteId, listSpecFor(displayName, this.mapping));
    if (result.conflicts.length || !result.list) {
      throw conflict('sync', 'shard_list_conflict', `the list "${displayName}" exists with incompatible columns: ${result.conflicts.map((c) => `${c.column} (${c.reason})`).join('; ')}`);
    }
    await this.assertNotOwnedElsewhere(result.list.id, displayName);
    await this.remember(displayName, result.list.id);
    this.deps.log.info('provisioned shard list', { definitionId: def.id, list: displayName, listId: result.list.id, created: result.created });
    return { kind: 'provisioned', listId: result.list.id };
  }

  /** A list belongs to exactly one definition (DESIGN §4). */
  private async assertNotOwnedElsewhere(listId: string, displayName: string): Promise<void> {
    for (const other of await this.deps.state.listDefinitions()) {
      if (other.definition.id === this.stored.definition.id) continue;
      if (Object.values(other.lists ?? {}).includes(listId)) {
        throw conflict('sync', 'list_owned_elsewhere', `the list "${displayName}" is already written by definition ${other.definition.id}`);
      }
    }
  }

  private async remember(displayName: string, listId: string): Promise<void> {
    this.known.set(displayName.toLowerCase(), listId);
    for (let attempt = 0; attempt < 10; attempt++) {
      const fresh = (await this.deps.state.getDefinition(this.stored.definition.id)) ?? this.stored;
      if (fresh.lists?.[displayName] === listId) {
        this.stored = fresh;
        return;
      }
      try {
        this.stored = await this.deps.state.putDefinition({ ...fresh, lists: { ...(fresh.lists ?? {}), [displayName]: listId } }, fresh.etag ? { ifMatch: fresh.etag } : {});
        return;
      } catch (error) {
        if (!isSyncError(error, 'state_conflict')) throw error;
      }
    }
    throw conflict('sync', 'state_conflict', 'could not record the new shard list: the definition kept changing');
  }
}
