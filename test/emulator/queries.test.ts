import { PageIterator } from '@microsoft/microsoft-graph-client';
import { graphClient, graphFailure, raw, SYNC_KEY_COLUMN, useEmulatorWithList } from './helpers';

const PREFER = { prefer: 'HonorNonIndexedQueriesWarningMayFailRandomly' };

describe('Graph emulator: item queries and paging', () => {
  const env = useEmulatorWithList('Orders', [
    SYNC_KEY_COLUMN,
    { name: 'Region', text: {}, indexed: true },
    { name: 'Amount', number: {} },
    { name: 'Note', text: {} },
  ]);

  const seed = (n: number, from = 0) =>
    env.emulator.state.seedItems(
      env.list,
      Array.from({ length: n }, (_, i) => ({
        Title: `Item ${from + i}`,
        SyncKey: `key-${from + i}`,
        Region: (from + i) % 2 === 0 ? 'North' : 'South',
        Amount: from + i,
      })),
    );

  it('finds an item by its indexed SyncKey without a Prefer header', async () => {
    seed(50);
    const res = await graphClient(env.emulator)
      .api(env.items)
      .expand('fields($select=SyncKey,Amount)')
      .filter("fields/SyncKey eq 'key-17'")
      .get();
    expect(res.value).toHaveLength(1);
    expect(res.value[0].id).toBe('18');
    expect(res.value[0].fields).toEqual({ '@odata.etag': expect.any(String), SyncKey: 'key-17', Amount: 17 });
  });

  it('refuses a filter on a non-indexed column without the Prefer header, naming the field', async () => {
    seed(10);
    const failure = await graphFailure(graphClient(env.emulator).api(env.items).filter('fields/Amount gt 5').get());
    expect(failure.statusCode).toBe(400);
    expect(failure.message).toContain("Field 'Amount' cannot be referenced in filter or orderby as it is not indexed");
    const allowed = await raw(env.emulator, 'GET', `${env.items}?$filter=fields/Amount gt 5&$expand=fields`, undefined, PREFER);
    expect(allowed.status).toBe(200);
    expect(allowed.json.value).toHaveLength(4);
  });

  it('fails a filter on a non-indexed column of a 6,000-item list as Graph does', async () => {
    seed(6000);
    const res = await raw(env.emulator, 'GET', `${env.items}?$filter=fields/Amount eq 5`, undefined, PREFER);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalidRequest');
    expect(res.json.error.message).toMatch(/list view threshold/);
    // Indexed filters keep working on the large list, also combined with non-indexed terms.
    const indexed = await raw(env.emulator, 'GET', `${env.items}?$filter=fields/SyncKey eq 'key-5999'`);
    expect(indexed.json.value.map((i: { id: string }) => i.id)).toEqual(['6000']);
    const narrowed = await raw(
      env.emulator,
      'GET',
      `${env.items}?$filter=fields/Region eq 'North' and fields/Amount lt 3&$expand=fields`,
      undefined,
      PREFER,
    );
    expect(narrowed.status).toBe(200);
    expect(narrowed.json.value.map((i: { fields: { Amount: number } }) => i.fields.Amount)).toEqual([0, 2]);
  });

  it('supports ne, lt/gt, and/or, not, startswith and null in filters', async () => {
    seed(10);
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'odd one', Note: "it's" } });
    const ids = async (filter: string) =>
      (await raw(env.emulator, 'GET', `${env.items}?$filter=${encodeURIComponent(filter)}`, undefined, PREFER)).json.value.map(
        (i: { id: string }) => Number(i.id),
      );
    expect(await ids("fields/SyncKey ne 'key-0' and fields/Amount lt 3")).toEqual([2, 3]);
    expect(await ids('fields/Amount ge 8 or fields/Amount eq 0')).toEqual([1, 9, 10]);
    expect(await ids("startswith(fields/SyncKey,'odd')")).toEqual([11]);
    expect(await ids("fields/Note eq 'it''s'")).toEqual([11]);
    expect(await ids('fields/Amount eq null')).toEqual([11]);
    expect(await ids("not (fields/Region eq 'North') and fields/Amount le 3")).toEqual([2, 4]);
    expect(await ids('fields/ID gt 9')).toEqual([10, 11]);
  });

  it('answers a malformed filter with 400 invalidRequest', async () => {
    const res = await raw(env.emulator, 'GET', `${env.items}?$filter=${encodeURIComponent("fields/SyncKey eq 'open")}`);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalidRequest');
  });

  it('pages with $top and absolute @odata.nextLink, returning every item exactly once', async () => {
    seed(1234);
    const client = graphClient(env.emulator);
    const first = await client.api(env.items).expand('fields($select=SyncKey)').top(100).get();
    expect(first['@odata.nextLink']).toMatch(new RegExp(`^${env.emulator.url}/v1.0/sites/.*\\$skiptoken=`));
    const seen: string[] = [];
    await new PageIterator(client, first, (item: { fields: { SyncKey: string } }) => {
      seen.push(item.fields.SyncKey);
      return true;
    }).iterate();
    expect(seen).toHaveLength(1234);
    expect(new Set(seen).size).toBe(1234);
  });

  it('uses a default page size of 200', async () => {
    seed(450);
    const res = await raw(env.emulator, 'GET', env.items);
    expect(res.json.value).toHaveLength(200);
    expect(res.json['@odata.nextLink']).toBeDefined();
  });

  it('pages every item exactly once while items are created and deleted between pages', async () => {
    seed(500);
    const seen = new Map<string, number>();
    let next: string | undefined = `${env.items}?$top=50&$expand=fields($select=SyncKey)`;
    let page = 0;
    let created = 500;
    while (next) {
      const res = await raw(env.emulator, 'GET', next);
      for (const item of res.json.value) seen.set(item.fields.SyncKey, (seen.get(item.fields.SyncKey) ?? 0) + 1);
      next = res.json['@odata.nextLink'];
      page++;
      // Between pages: delete an item already read, and add one at the end.
      await raw(env.emulator, 'DELETE', `${env.items}/${page}`);
      seed(1, created++);
    }
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // Every item that existed for the whole run was returned.
    for (let i = 0; i < 500; i++) expect(seen.has(`key-${i}`)).toBe(true);
  });

  it('pages filtered results with nextLinks that keep the filter', async () => {
    seed(300);
    let next: string | undefined = `${env.items}?$top=40&$filter=${encodeURIComponent("fields/Region eq 'South'")}&$expand=fields`;
    const amounts: number[] = [];
    while (next) {
      const res = await raw(env.emulator, 'GET', next);
      amounts.push(...res.json.value.map((i: { fields: { Amount: number } }) => i.fields.Amount));
      next = res.json['@odata.nextLink'];
    }
    expect(amounts).toHaveLength(150);
    expect(amounts.every((a) => a % 2 === 1)).toBe(true);
  });
});
