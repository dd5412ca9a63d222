import { createList, graphClient, graphFailure, raw, useEmulatorWithList } from './helpers';

describe('Graph emulator: items delta', () => {
  const env = useEmulatorWithList('Tracked');

  /** Follows nextLinks to the deltaLink; returns the items seen and the deltaLink. */
  async function drain(start: string): Promise<{ value: Array<Record<string, unknown>>; deltaLink: string }> {
    const value: Array<Record<string, unknown>> = [];
    let next: string | undefined = start;
    for (;;) {
      const res = await raw(env.emulator, 'GET', next as string);
      expect(res.status).toBe(200);
      value.push(...res.json.value);
      if (res.json['@odata.deltaLink']) return { value, deltaLink: res.json['@odata.deltaLink'] };
      next = res.json['@odata.nextLink'];
    }
  }

  it('returns every item on the first delta, then only changes and deletions with the deltaLink', async () => {
    env.emulator.state.seedItems(
      env.list,
      Array.from({ length: 25 }, (_, i) => ({ SyncKey: `k${i}` })),
    );
    const first = await drain(`${env.items}/delta?$top=10`);
    expect(first.value).toHaveLength(25);
    expect(first.deltaLink).toMatch(/\/items\/delta\?.*token=/);
    expect(first.value[0]).toHaveProperty('fields.SyncKey', 'k0');

    await raw(env.emulator, 'PATCH', `${env.items}/3/fields`, { Title: 'changed' });
    await raw(env.emulator, 'DELETE', `${env.items}/5`);
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'new' } });

    const second = await drain(first.deltaLink);
    expect(second.value).toEqual([
      expect.objectContaining({ id: '3', fields: expect.objectContaining({ Title: 'changed' }) }),
      { id: '5', deleted: { state: 'deleted' } },
      expect.objectContaining({ id: '26' }),
    ]);
    const third = await drain(second.deltaLink);
    expect(third.value).toEqual([]);
  });

  it('works with the real Graph client following the deltaLink', async () => {
    const client = graphClient(env.emulator);
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'a' } });
    const first = await client.api(`${env.items}/delta`).get();
    expect(first.value).toHaveLength(1);
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'b' } });
    const second = await client.api(first['@odata.deltaLink']).get();
    expect(second.value.map((i: { id: string }) => i.id)).toEqual(['2']);
  });

  it('returns no items and a fresh deltaLink for token=latest', async () => {
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'a' } });
    const latest = await raw(env.emulator, 'GET', `${env.items}/delta?token=latest`);
    expect(latest.json.value).toEqual([]);
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'b' } });
    const after = await drain(latest.json['@odata.deltaLink']);
    expect(after.value.map((i) => i.id)).toEqual(['2']);
  });

  it('answers an expired delta token with 410 resyncRequired', async () => {
    const first = await drain(`${env.items}/delta`);
    env.emulator.state.expireDeltaTokens(env.list);
    const failure = await graphFailure(graphClient(env.emulator).api(first.deltaLink).get());
    expect(failure).toMatchObject({ statusCode: 410, code: 'resyncRequired' });
    const res = await raw(env.emulator, 'GET', first.deltaLink);
    expect(res.headers.get('location')).toMatch(/\/items\/delta$/);
  });

  it('answers an unknown delta token, or one from before a reset, with 410', async () => {
    expect((await raw(env.emulator, 'GET', `${env.items}/delta?token=bogus`)).status).toBe(410);
    const first = await drain(`${env.items}/delta`);
    env.emulator.state.reset();
    const again = await createList(env.emulator, 'Tracked');
    const stale = first.deltaLink.replace(env.list, again);
    expect((await raw(env.emulator, 'GET', stale)).status).toBe(410);
  });

  it('charges 2 RU for a delta without a token and 1 RU with one', async () => {
    env.emulator.state.resetMetrics();
    const first = await drain(`${env.items}/delta`);
    await raw(env.emulator, 'GET', first.deltaLink);
    expect(env.emulator.state.metrics().ru.byKind).toMatchObject({ readMany: 2, read1: 1 });
  });
});
