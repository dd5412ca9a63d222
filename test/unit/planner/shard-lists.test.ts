import { isSyncError } from '../../../src/core/errors';
import type { EnsureListResult, ListSpec, ListTarget } from '../../../src/core/ports/list-target';
import { silentLogger } from '../../../src/core/ports/logger';
import type { StateStore, StoredDefinition } from '../../../src/core/ports/state';
import { DEFAULT_SYNC_SETTINGS, type SyncDeps } from '../../../src/sync/deps';
import { ShardLists } from '../../../src/sync/shard-lists';
import { ordersDefinition, ordersMapping } from './fixtures';

/** Resolving shard lists: known ones by id, new ones provisioned once (or, on a dry run, only reported). */

function setup(opts: { existing?: Record<string, string>; others?: StoredDefinition[]; autoProvision?: boolean } = {}) {
  const existing = { ...(opts.existing ?? {}) };
  const calls: string[] = [];
  const target = {
    async findList(_site: string, name: string) {
      calls.push(`find ${name}`);
      return existing[name] ? { id: existing[name], displayName: name } : null;
    },
    async ensureList(_site: string, spec: ListSpec): Promise<EnsureListResult> {
      calls.push(`ensure ${spec.displayName}`);
      const created = !existing[spec.displayName];
      existing[spec.displayName] ??= `id-${spec.displayName}`;
      return { list: { id: existing[spec.displayName]!, displayName: spec.displayName }, created, columnsToAdd: [], added: [], conflicts: [], dryRun: false };
    },
  } as unknown as ListTarget;
  let stored: StoredDefinition = { definition: ordersDefinition({ target: { connectionId: 'sp', siteId: 'site-1', autoProvision: opts.autoProvision ?? true } }), mappingVersion: 1, activeSourceId: 'pg', lists: { 'Orders Europe': 'list-eu' }, etag: 'v1' };
  const state = {
    async listDefinitions() {
      return [stored, ...(opts.others ?? [])];
    },
    async getDefinition() {
      return stored;
    },
    async putDefinition(next: StoredDefinition) {
      stored = { ...next, etag: 'v2' };
      return stored;
    },
  } as unknown as StateStore;
  const deps = { state, log: silentLogger, settings: DEFAULT_SYNC_SETTINGS } as unknown as SyncDeps;
  const lists = (dryRun: boolean) => new ShardLists(deps, stored, ordersMapping(), target, dryRun);
  return { lists, calls, stored: () => stored };
}

describe('shard lists', () => {
  it('a list the definition already has resolves by its id, whatever the case, without asking SharePoint', async () => {
    const { lists, calls } = setup();
    await expect(lists(false).resolve('orders europe')).resolves.toEqual({ kind: 'provisioned', listId: 'list-eu' });
    expect(calls).toEqual([]);
  });

  it('a new shard list is provisioned once and remembered on the definition', async () => {
    const { lists, calls, stored } = setup();
    const shards = lists(false);
    await expect(shards.resolve('Orders Other')).resolves.toEqual({ kind: 'provisioned', listId: 'id-Orders Other' });
    await expect(shards.resolve('Orders Other')).resolves.toEqual({ kind: 'provisioned', listId: 'id-Orders Other' });
    expect(calls).toEqual(['ensure Orders Other']);
    expect(stored().lists).toEqual({ 'Orders Europe': 'list-eu', 'Orders Other': 'id-Orders Other' });
  });

  it('a dry run finds an existing list by name, and reports one it would provision without creating it', async () => {
    const { lists, calls, stored } = setup({ existing: { 'Orders Other': 'list-other' } });
    const shards = lists(true);
    await expect(shards.resolve('Orders Other')).resolves.toEqual({ kind: 'provisioned', listId: 'list-other' });
    await expect(shards.resolve('Orders Asia')).resolves.toEqual({ kind: 'wouldProvision' });
    await expect(shards.resolve('Orders Asia')).resolves.toEqual({ kind: 'wouldProvision' });
    expect(calls).toEqual(['find Orders Other', 'find Orders Asia']);
    expect(stored().lists).toEqual({ 'Orders Europe': 'list-eu' });
  });

  it('with autoProvision off, a missing shard list fails the row (skippable), naming the list', async () => {
    const { lists } = setup({ autoProvision: false });
    const error = await lists(false).resolve('Orders Other').catch((e: unknown) => e);
    expect(isSyncError(error, 'shard_list_missing') && error.errorClass).toBe('skippable');
  });

  it('a list another definition already writes is refused', async () => {
    const other: StoredDefinition = { definition: ordersDefinition({ id: 'invoices' }), mappingVersion: 1, activeSourceId: 'pg', lists: { Shared: 'id-Orders Other' } };
    const { lists } = setup({ existing: { 'Orders Other': 'id-Orders Other' }, others: [other] });
    await expect(lists(false).resolve('Orders Other')).rejects.toThrow('the list "Orders Other" is already written by definition invoices');
  });
});
