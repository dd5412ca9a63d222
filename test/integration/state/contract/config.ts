import { isSyncError } from '../../../../src/core/errors';
import { uid, expectSyncError, definition, type ContractContext } from './harness';

/** ConfigStore: sources, SharePoint connections and definitions with ETags. */
export function configContract(ctx: ContractContext): void {
  describe('configuration', () => {
    it('a source connection round-trips, lists, updates and deletes', async () => {
      const id = `src-${uid()}`;
      const saved = await ctx.store.putSource({ id, engine: 'postgres', host: 'db.example', database: 'sales', user: 'sync', secretRef: 'pg-password' });
      expect(saved.etag).toBeTruthy();
      expect(saved.createdAt).toBeTruthy();
      const got = await ctx.store.getSource(id);
      expect(got).toMatchObject({ id, engine: 'postgres', host: 'db.example', secretRef: 'pg-password', etag: saved.etag });
      expect((await ctx.store.listSources()).map((s) => s.id)).toContain(id);
      const updated = await ctx.store.putSource({ ...got!, host: 'db2.example' }, { ifMatch: got!.etag });
      expect(updated.etag).not.toBe(saved.etag);
      expect((await ctx.store.getSource(id))?.host).toBe('db2.example');
      expect((await ctx.store.getSource(id))?.createdAt).toBe(got!.createdAt);
      expect(await ctx.store.deleteSource(id)).toBe(true);
      expect(await ctx.store.deleteSource(id)).toBe(false);
      expect(await ctx.store.getSource(id)).toBeNull();
    });

    it('a SharePoint connection round-trips, lists and deletes', async () => {
      const id = `sp-${uid()}`;
      await ctx.store.putSharePoint({ id, tenantId: 't', clientId: 'c', auth: { kind: 'clientSecret', secretRef: 'sp-secret' }, defaultSiteId: 'site-1' });
      expect(await ctx.store.getSharePoint(id)).toMatchObject({ id, auth: { kind: 'clientSecret', secretRef: 'sp-secret' }, defaultSiteId: 'site-1' });
      expect((await ctx.store.listSharePoint()).map((s) => s.id)).toContain(id);
      expect(await ctx.store.deleteSharePoint(id)).toBe(true);
      expect(await ctx.store.getSharePoint(id)).toBeNull();
    });

    it('a definition round-trips with its mapping version, bound source, lists and snapshot', async () => {
      const id = `def-${uid()}`;
      const def = { ...definition(id), mapping: { Title: { target: 'Title' } }, schemaSnapshot: { columns: [{ name: 'Title', type: 'nvarchar' }] } };
      await ctx.store.putDefinition(def, { mustNotExist: true });
      const got = await ctx.store.getDefinition(id);
      expect(got).toMatchObject({ definition: def.definition, mappingVersion: 1, activeSourceId: 'src-a', lists: { Orders: 'list-1' }, mapping: def.mapping, schemaSnapshot: def.schemaSnapshot });
      expect((await ctx.store.listDefinitions()).map((d) => d.definition.id)).toContain(id);
      expect(await ctx.store.deleteDefinition(id)).toBe(true);
      expect(await ctx.store.getDefinition(id)).toBeNull();
    });

    it('creating a definition that already exists is refused with state_conflict', async () => {
      const id = `def-${uid()}`;
      await ctx.store.putDefinition(definition(id), { mustNotExist: true });
      await expectSyncError(ctx.store.putDefinition(definition(id), { mustNotExist: true }), 'state_conflict');
    });

    it('of concurrent creates of one definition exactly one succeeds', async () => {
      const id = `def-${uid()}`;
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => ctx.store.putDefinition(definition(id), { mustNotExist: true })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(isSyncError(r.reason, 'state_conflict')).toBe(true);
    });

    it('saving with a stale ETag is refused with state_conflict and keeps the newer version', async () => {
      const id = `def-${uid()}`;
      const first = await ctx.store.putDefinition(definition(id), { mustNotExist: true });
      const second = await ctx.store.putDefinition({ ...first, mappingVersion: 2 }, { ifMatch: first.etag });
      await expectSyncError(ctx.store.putDefinition({ ...first, mappingVersion: 3 }, { ifMatch: first.etag }), 'state_conflict');
      const got = await ctx.store.getDefinition(id);
      expect(got?.mappingVersion).toBe(2);
      expect(got?.etag).toBe(second.etag);
    });

    it('saving with an ETag for a record that is gone is refused with not_found', async () => {
      const id = `src-${uid()}`;
      const saved = await ctx.store.putSource({ id, engine: 'sqlserver', host: 'h', database: 'd', user: 'u', secretRef: 's' });
      await ctx.store.deleteSource(id);
      await expectSyncError(ctx.store.putSource(saved, { ifMatch: saved.etag }), 'not_found');
    });

    it('a large schema snapshot (300 KB) round-trips', async () => {
      const id = `def-${uid()}`;
      const columns = Array.from({ length: 3000 }, (_, i) => ({ name: `Column_${i}_${'x'.repeat(60)}`, type: 'nvarchar', note: 'é😀' }));
      await ctx.store.putDefinition({ ...definition(id), schemaSnapshot: { columns } });
      expect((await ctx.store.getDefinition(id))?.schemaSnapshot).toEqual({ columns });
    });
  });
}
