import { createList, graphClient, graphFailure, itemsPath, raw, SYNC_KEY_COLUMN, useEmulatorWithList } from './helpers';

describe('Graph emulator: list items', () => {
  const env = useEmulatorWithList('Orders', [
    SYNC_KEY_COLUMN,
    { name: 'Amount', number: { minimum: 0, maximum: 1000 } },
    { name: 'Price', currency: {} },
    { name: 'Paid', boolean: {} },
    { name: 'Due', dateTime: { format: 'dateOnly' } },
    { name: 'At', dateTime: { format: 'dateTime' } },
    { name: 'Status', choice: { choices: ['Open', 'Closed'] } },
    { name: 'Code', text: { maxLength: 5 } },
    { name: 'Notes', text: { allowMultipleLines: true } },
  ]);

  it('creates, reads, updates and deletes an item through the Graph client', async () => {
    const client = graphClient(env.emulator);
    const created = await client.api(env.items).post({ fields: { Title: 'First', SyncKey: 'k1', Amount: 12.5, Paid: false } });
    expect(created).toMatchObject({ id: '1', fields: { Title: 'First', SyncKey: 'k1', Amount: 12.5, Paid: false } });
    expect(created.eTag).toMatch(/^"[0-9a-f-]{36},1"$/);
    expect(created.createdDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const read = await client.api(`${env.items}/1`).expand('fields').get();
    expect(read.fields).toMatchObject({ Title: 'First', SyncKey: 'k1', id: '1' });
    const withoutFields = await client.api(`${env.items}/1`).get();
    expect(withoutFields.fields).toBeUndefined();

    const patched = await client.api(`${env.items}/1/fields`).patch({ Amount: 99, Status: 'Closed' });
    expect(patched).toMatchObject({ Title: 'First', Amount: 99, Status: 'Closed', SyncKey: 'k1' });

    await client.api(`${env.items}/1`).delete();
    const gone = await graphFailure(client.api(`${env.items}/1`).get());
    expect(gone).toMatchObject({ statusCode: 404, code: 'itemNotFound' });
  });

  it('gives item ids as increasing integers per list, as strings', async () => {
    const other = itemsPath(env.emulator, await createList(env.emulator, 'Other'));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await raw(env.emulator, 'POST', env.items, { fields: {} })).json.id);
    await raw(env.emulator, 'DELETE', `${env.items}/3`);
    ids.push((await raw(env.emulator, 'POST', env.items, { fields: {} })).json.id);
    expect(ids).toEqual(['1', '2', '3', '4']);
    expect((await raw(env.emulator, 'POST', other, { fields: {} })).json.id).toBe('1');
  });

  it('changes the eTag on every update and refuses a stale If-Match with 412', async () => {
    const created = (await raw(env.emulator, 'POST', env.items, { fields: { Title: 'a' } })).json;
    const first = await raw(env.emulator, 'PATCH', `${env.items}/${created.id}/fields`, { Title: 'b' }, { 'if-match': created.eTag });
    expect(first.status).toBe(200);
    expect(first.json['@odata.etag']).not.toBe(created.eTag);
    const stale = await raw(env.emulator, 'PATCH', `${env.items}/${created.id}/fields`, { Title: 'c' }, { 'if-match': created.eTag });
    expect(stale.status).toBe(412);
    const fresh = await raw(env.emulator, 'DELETE', `${env.items}/${created.id}`, undefined, { 'if-match': first.json['@odata.etag'] });
    expect(fresh.status).toBe(204);
  });

  it('refuses a create that duplicates a unique SyncKey with 409 and writes nothing', async () => {
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'abc' } });
    const client = graphClient(env.emulator);
    const failure = await graphFailure(client.api(env.items).post({ fields: { SyncKey: 'abc', Title: 'second' } }));
    expect(failure.statusCode).toBe(409);
    expect(failure.code).toBe('nameAlreadyExists');
    expect(failure.message).toContain('SyncKey');
    expect(failure.message).toContain('unique');
    expect(env.emulator.state.items(env.list)).toHaveLength(1);
  });

  it('compares unique values case-insensitively, as SharePoint does', async () => {
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'ABC' } });
    const res = await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'abc' } });
    expect(res.status).toBe(409);
  });

  it("refuses an update that takes another item's unique value, and accepts re-writing its own", async () => {
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'one' } });
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'two' } });
    expect((await raw(env.emulator, 'PATCH', `${env.items}/2/fields`, { SyncKey: 'one' })).status).toBe(409);
    expect((await raw(env.emulator, 'PATCH', `${env.items}/2/fields`, { SyncKey: 'two' })).status).toBe(200);
    // After the first item lets go of the value, the second may take it.
    await raw(env.emulator, 'DELETE', `${env.items}/1`);
    expect((await raw(env.emulator, 'PATCH', `${env.items}/2/fields`, { SyncKey: 'one' })).status).toBe(200);
  });

  it.each([
    ['an unknown field', { Foo: 1 }, 'Foo'],
    ['text longer than maxLength', { Code: 'toolong' }, 'Code'],
    ['Title longer than 255', { Title: 'x'.repeat(256) }, 'Title'],
    ['a number sent as text', { Amount: '12' }, 'Amount'],
    ['a number below its minimum', { Amount: -1 }, 'Amount'],
    ['a number above its maximum', { Amount: 1001 }, 'Amount'],
    ['currency that is not a number', { Price: 'EUR 5' }, 'Price'],
    ['a boolean sent as text', { Paid: 'yes' }, 'Paid'],
    ['a date that is not ISO 8601', { Due: '31/12/2024' }, 'Due'],
    ['a date that does not exist', { At: '2024-02-30T10:00:00Z' }, 'At'],
    ['a value outside the choices', { Status: 'Pending' }, 'Status'],
    ['text that is an object', { Notes: { a: 1 } }, 'Notes'],
    ['a read-only field', { Created: '2024-01-01T00:00:00Z' }, 'Created'],
  ])('names the field when a create has %s', async (_what, fields, field) => {
    const res = await raw(env.emulator, 'POST', env.items, { fields });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalidRequest');
    expect(res.json.error.message).toContain(`'${field}'`);
    expect(env.emulator.state.items(env.list)).toHaveLength(0);
  });

  it('names the field when an update has a bad value, and leaves the item as it was', async () => {
    await raw(env.emulator, 'POST', env.items, { fields: { Title: 'keep', Amount: 1 } });
    const res = await raw(env.emulator, 'PATCH', `${env.items}/1/fields`, { Title: 'changed', Amount: 'lots' });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain("Field 'Amount'");
    expect(env.emulator.state.items(env.list)[0]?.fields).toMatchObject({ Title: 'keep', Amount: 1 });
  });

  it('stores dates in UTC to the second, and date-only columns at midnight', async () => {
    const res = await raw(env.emulator, 'POST', env.items, { fields: { Due: '2024-03-05T17:30:00+02:00', At: '2024-03-05T17:30:12.345+02:00' } });
    expect(res.json.fields).toMatchObject({ Due: '2024-03-05T00:00:00Z', At: '2024-03-05T15:30:12Z' });
  });

  it('accepts multiple lines of text beyond 255 characters and clears fields set to null', async () => {
    const long = 'line\n'.repeat(200);
    const created = await raw(env.emulator, 'POST', env.items, { fields: { Notes: long, Title: 't' } });
    expect(created.json.fields.Notes).toBe(long);
    const cleared = await raw(env.emulator, 'PATCH', `${env.items}/1/fields`, { Notes: null });
    expect(cleared.json.Notes).toBeUndefined();
    expect(cleared.json.Title).toBe('t');
  });

  it('answers a delete of a missing item with 404 itemNotFound', async () => {
    const res = await raw(env.emulator, 'DELETE', `${env.items}/42`);
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('itemNotFound');
  });

  it('refuses a $select of a property listItem does not have', async () => {
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'k' } });
    const res = await raw(env.emulator, 'GET', `${env.items}?$select=id,SyncKey`);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('SyncKey');
  });

  it('writes to a list addressed by display name', async () => {
    const res = await raw(env.emulator, 'POST', itemsPath(env.emulator, 'Orders'), { fields: { SyncKey: 'by-name' } });
    expect(res.status).toBe(201);
    expect(env.emulator.state.items(env.list).map((i) => i.fields.SyncKey)).toEqual(['by-name']);
  });
});
