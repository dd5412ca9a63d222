import { CONFIG_REUSE_MS, createServices, RecentRecords, type Services } from '../../../src/composition';
import { loadConfig } from '../../../src/config';
import type { StateStore } from '../../../src/core/ports/state';
import { definition } from './contract/harness';

/**
 * The write path reads SharePoint connections and definitions through records kept for
 * CONFIG_REUSE_MS (composition.ts): a write through this host is seen at once, and a record is
 * read again once it is older than that.
 */

describe('RecentRecords', () => {
  const setup = () => {
    let now = 1_000;
    const stored = new Map<string, { v: number }>([['a', { v: 1 }]]);
    const reads: string[] = [];
    const records = new RecentRecords<{ v: number }>(
      async (id) => {
        reads.push(id);
        return stored.get(id) ?? null;
      },
      5_000,
      () => now,
    );
    return { records, stored, reads, advance: (ms: number) => (now += ms) };
  };

  it('answers from the record it read until the record is older than its age', async () => {
    const { records, stored, reads, advance } = setup();
    expect(await records.get('a')).toEqual({ v: 1 });
    stored.set('a', { v: 2 });
    advance(4_999);
    expect(await records.get('a')).toEqual({ v: 1 });
    expect(reads).toEqual(['a']);
    advance(1);
    expect(await records.get('a')).toEqual({ v: 2 });
    expect(reads).toEqual(['a', 'a']);
  });

  it('reads again after forget, and keeps neither an absent record nor a failed read', async () => {
    const { records, stored, reads } = setup();
    await records.get('a');
    stored.set('a', { v: 3 });
    records.forget('a');
    expect(await records.get('a')).toEqual({ v: 3 });
    expect(await records.get('b')).toBeNull();
    stored.set('b', { v: 1 });
    expect(await records.get('b')).toEqual({ v: 1 });
    const failing = new RecentRecords<{ v: number }>(async () => {
      reads.push('x');
      throw new Error('store down');
    }, 5_000);
    await expect(failing.get('x')).rejects.toThrow('store down');
    await expect(failing.get('x')).rejects.toThrow('store down');
    expect(reads.filter((r) => r === 'x')).toHaveLength(2);
  });
});

describe('the services reuse config records for the write path (PostgreSQL state store)', () => {
  let services: Services;
  let state: StateStore;
  beforeAll(async () => {
    services = createServices(
      loadConfig({
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        QUEUE_TRANSPORT: 'storage',
        STATE_STORE: 'postgres',
        STATE_SQL_URL: process.env.TEST_PG_URL!,
        STATE_SQL_SCHEMA: `cfg_reuse_${Math.random().toString(36).slice(2, 8)}`,
        GRAPH_BASE_URL: 'http://127.0.0.1:9',
        GRAPH_STATIC_TOKEN: 'emulator-token',
      }),
    );
    state = await services.state();
  });
  afterAll(async () => {
    await state.close();
  });

  it('keeps one target per connection and sees a connection changed through this host at once', async () => {
    await state.putSharePoint({ id: 'sp', tenantId: 'tenant-1', clientId: 'client-1', auth: { kind: 'managedIdentity' } });
    const first = await services.target('sp');
    expect(await services.target('sp')).toBe(first);
    const before = await state.getSharePoint('sp');
    await state.putSharePoint({ ...before!, clientId: 'client-2' }, { ifMatch: before!.etag });
    expect(await services.target('sp')).not.toBe(first);
    await state.deleteSharePoint('sp');
    await expect(services.target('sp')).rejects.toThrow();
  });

  it('answers a definition changed or deleted through this host with the stored one', async () => {
    expect(CONFIG_REUSE_MS).toBeGreaterThan(0);
    expect(await services.recentDefinition('d1')).toBeNull();
    const created = await state.putDefinition(definition('d1'), { mustNotExist: true });
    expect((await services.recentDefinition('d1'))?.etag).toBe(created.etag);
    const changed = await state.putDefinition({ ...created, mappingVersion: created.mappingVersion + 1 }, { ifMatch: created.etag });
    expect((await services.recentDefinition('d1'))?.etag).toBe(changed.etag);
    await state.deleteDefinition('d1');
    expect(await services.recentDefinition('d1')).toBeNull();
  });
});
