import type { StoredDefinition, StoredSource } from '../../src/core/ports/state';
import { identityChanges } from '../../src/sync/identity-change';
import { ordersDefinition } from './fixtures';

/** What counts as a new identity for every row: key, table, source engine; nothing else. */

const sources: Record<string, Pick<StoredSource, 'engine'>> = { pg: { engine: 'postgres' }, pg2: { engine: 'postgres' }, mssql: { engine: 'sqlserver' } };
const state = { getSource: async (id: string) => (sources[id] as StoredSource | undefined) ?? null };
const stored = (extra: Partial<StoredDefinition> = {}): StoredDefinition => ({ definition: ordersDefinition(), mappingVersion: 1, activeSourceId: 'pg', mapping: { key: ['id'] }, ...extra });

describe('identity changes of a definition', () => {
  it('a new field, schedule or another source of the same engine changes no identity', async () => {
    const next = ordersDefinition({ fields: [{ source: 'customer' }, { source: 'region' }], schedule: '0 */5 * * * *', sources: [{ connectionId: 'pg2', role: 'primary' }] });
    expect(await identityChanges(state, stored(), next, 'pg2')).toEqual([]);
  });

  it('naming the key the table already defaulted to is no change; naming another key is', async () => {
    expect(await identityChanges(state, stored(), ordersDefinition({ key: ['id'] }), 'pg')).toEqual([]);
    expect((await identityChanges(state, stored(), ordersDefinition({ key: ['customer'] }), 'pg')).map((i) => i.path)).toEqual(['key']);
  });

  it('another table, or a source on another engine, is a change naming what changed', async () => {
    const moved = await identityChanges(state, stored(), ordersDefinition({ table: { schema: 'public', name: 'orders_v2' } }), 'pg');
    expect(moved).toEqual([expect.objectContaining({ path: 'table', message: expect.stringContaining('public.orders_v2') })]);
    const engine = await identityChanges(state, stored(), ordersDefinition({ sources: [{ connectionId: 'mssql', role: 'primary' }] }), 'mssql');
    expect(engine).toEqual([expect.objectContaining({ path: 'sources', message: 'the source engine changes from postgres to sqlserver' })]);
  });
});
