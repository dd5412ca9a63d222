import type { SyncDefinition } from '../../src/core/definitions';
import { conflict, isSyncError } from '../../src/core/errors';
import { identityHash } from '../../src/core/identity';
import type { EnsureListResult, ListSpec, ListTarget } from '../../src/core/ports/list-target';
import { silentLogger } from '../../src/core/ports/logger';
import type { SourceDatabase, TableSchema } from '../../src/core/ports/source';
import type { StateStore, StoredDefinition } from '../../src/core/ports/state';
import { shardList } from '../../src/core/sharding';
import { applyProvisioning, listsKnownUpFront, planProvisioning, type ProvisionDeps } from '../../src/sync/provision';
import { column, ordersDefinition } from './fixtures';

/** Provisioning rules that need no SharePoint or database: which lists, when to store, what to refuse. */

const table: TableSchema = {
  engine: 'postgres',
  table: { schema: 'public', name: 'orders' },
  kind: 'table',
  columns: [
    column('id', 'int', { ordinal: 1, nativeType: 'integer', nullable: false }),
    column('customer', 'text', { ordinal: 2, nativeType: 'varchar(50)', maxLength: 50, nullable: false }),
    column('qty', 'int', { ordinal: 3, nativeType: 'integer' }),
  ],
  primaryKey: ['id'],
  uniqueConstraints: [],
  indexes: [],
};

const def = ordersDefinition;

/** A list target that remembers lists by name; `existing` seeds lists with a conflict or an id. */
function fakeTarget(existing: Record<string, { id: string; conflict?: boolean }> = {}) {
  const applied: string[] = [];
  const target = {
    async ensureList(_site: string, spec: ListSpec, opts: { dryRun?: boolean } = {}): Promise<EnsureListResult> {
      const have = existing[spec.displayName];
      const dryRun = opts.dryRun === true;
      if (!dryRun) applied.push(spec.displayName);
      const conflicts = have?.conflict ? [{ column: 'customer', existing: { type: 'number' } as never, wanted: spec.columns[0]!, reason: 'type differs' }] : [];
      if (!have && !dryRun) existing[spec.displayName] = { id: `id-${spec.displayName}` };
      const list = have || !dryRun ? { id: existing[spec.displayName]!.id, displayName: spec.displayName } : null;
      return { list, created: !have, columnsToAdd: have ? [] : spec.columns, added: dryRun || have ? [] : spec.columns, conflicts, dryRun };
    },
  } as unknown as ListTarget;
  return { target, applied };
}

/** A state store holding definitions with versions; `interfere` runs once before the first write. */
function fakeState(records: StoredDefinition[], interfere?: (store: Map<string, StoredDefinition>) => void) {
  const store = new Map(records.map((r) => [r.definition.id, { ...r, etag: r.etag ?? 'v0' }]));
  let version = 0;
  const writes: StoredDefinition[] = [];
  const state = {
    async listDefinitions() {
      return [...store.values()];
    },
    async getDefinition(id: string) {
      return store.get(id) ?? null;
    },
    async putDefinition(next: StoredDefinition, opts: { ifMatch?: string } = {}) {
      if (interfere) {
        interfere(store);
        interfere = undefined;
      }
      const current = store.get(next.definition.id);
      if (opts.ifMatch && current?.etag !== opts.ifMatch) throw conflict('state', 'state_conflict', 'changed');
      const saved = { ...next, etag: `v${++version}` };
      store.set(next.definition.id, saved);
      writes.push(saved);
      return saved;
    },
  } as unknown as StateStore;
  return { state, store, writes };
}

function deps(state: StateStore, target: ListTarget): ProvisionDeps {
  const source = { describeTable: async () => table } as unknown as SourceDatabase;
  return { state, source: async () => source, target: async () => target, log: silentLogger };
}

const stored = (definition: SyncDefinition, extra: Partial<StoredDefinition> = {}): StoredDefinition => ({ definition, mappingVersion: 0, activeSourceId: 'pg', ...extra });

describe('the lists provisioning knows up front', () => {
  it('names hash buckets exactly as the router names them, so runs find every list provisioned', () => {
    const sharding = { strategy: 'hash' as const, buckets: 7, listTemplate: 'Orders {n}' };
    const provisioned = new Set(listsKnownUpFront(sharding).lists);
    expect(provisioned.size).toBe(7);
    for (let i = 0; i < 500; i++) expect(provisioned.has(shardList({}, sharding, identityHash([i], ['other'])))).toBe(true);
  });

  it('takes every rule list and the default, and leaves date periods to runs', () => {
    expect(listsKnownUpFront({ strategy: 'rules', rules: [{ when: { column: 'qty', op: 'gt', value: 1 }, list: 'Big' }], default: 'Small' }).lists).toEqual(['Big', 'Small']);
    const date = listsKnownUpFront({ strategy: 'date', column: 'placed', period: 'month', listTemplate: 'Orders {yyyy}' });
    expect(date.lists).toEqual([]);
    expect(date.onDemand).toContain('month');
  });
});

describe('provisioning', () => {
  it('a dry run calls Graph only in dry-run mode and stores nothing', async () => {
    const { target, applied } = fakeTarget();
    const { state, writes } = fakeState([stored(def())]);
    const plan = await planProvisioning(deps(state, target), stored(def()));
    expect(plan).toMatchObject({ dryRun: true, changed: false, mappingVersion: 1, lists: [{ list: 'Orders', action: 'create', listId: null }] });
    expect(applied).toEqual([]);
    expect(writes).toEqual([]);
  });

  it('apply refuses every change while one list has a conflict', async () => {
    const definition = def({ sharding: { strategy: 'rules', rules: [{ when: { column: 'qty', op: 'gt', value: 1 }, list: 'Fine' }], default: 'Broken' } });
    const { target, applied } = fakeTarget({ Broken: { id: 'b', conflict: true } });
    const { state, writes } = fakeState([stored(definition)]);
    const error = await applyProvisioning(deps(state, target), stored(definition)).catch((e: unknown) => e);
    expect(isSyncError(error, 'provisioning_conflict')).toBe(true);
    expect(applied).toEqual([]); // not even the list without a conflict
    expect(writes).toEqual([]);
  });

  it('merges a shard list that a run recorded meanwhile instead of overwriting it', async () => {
    const { target } = fakeTarget();
    const initial = stored(def());
    const { state, store } = fakeState([initial], (s) => {
      const current = s.get('orders')!;
      s.set('orders', { ...current, lists: { 'Orders 2031': 'id-2031' }, etag: 'v-run' });
    });
    const result = await applyProvisioning(deps(state, target), (await state.getDefinition('orders'))!);
    expect(result.changed).toBe(true);
    expect(store.get('orders')!.lists).toEqual({ 'Orders 2031': 'id-2031', Orders: 'id-Orders' });
    expect(store.get('orders')!.mappingVersion).toBe(1);
  });

  it('bumps mappingVersion when the mapping changed, and keeps it (writing nothing) when it did not', async () => {
    const { target } = fakeTarget({ Orders: { id: 'id-Orders' } });
    const first = stored(def(), { mappingVersion: 3, mapping: { hash: 'an older mapping' }, lists: { Orders: 'id-Orders' } });
    const { state, writes } = fakeState([first]);
    const applied = await applyProvisioning(deps(state, target), (await state.getDefinition('orders'))!);
    expect(applied).toMatchObject({ mappingVersion: 4, mappingChanged: true });
    expect(writes).toHaveLength(1);

    const again = await applyProvisioning(deps(state, target), (await state.getDefinition('orders'))!);
    expect(again).toMatchObject({ mappingVersion: 4, mappingChanged: false, changed: false });
    expect(writes).toHaveLength(1);
  });

  it('refuses a list another definition writes', async () => {
    const { target } = fakeTarget({ Orders: { id: 'shared' } });
    const other = stored(def({ id: 'other' }), { lists: { Orders: 'shared' } });
    const { state } = fakeState([stored(def()), other]);
    const plan = await planProvisioning(deps(state, target), stored(def()));
    expect(plan.lists[0]).toMatchObject({ action: 'conflict', conflicts: [expect.objectContaining({ column: null, reason: expect.stringContaining("'other'") })] });
    await expect(applyProvisioning(deps(state, target), stored(def()))).rejects.toMatchObject({ status: 409 });
  });
});
