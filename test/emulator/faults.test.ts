import { createList, graphClient, itemsPath, raw, useEmulatorWithList } from './helpers';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

describe('Graph emulator: fault injection', () => {
  const env = useEmulatorWithList('Faulty');

  const inject = (spec: unknown) => raw(env.emulator, 'POST', '/_emulator/faults', spec);
  const create = (syncKey: string) => raw(env.emulator, 'POST', env.items, { fields: { SyncKey: syncKey } });

  it('fails the next N requests with the injected status, then clears', async () => {
    expect((await inject({ kind: 'status', status: 503, count: 2, retryAfter: 7 })).status).toBe(201);
    const first = await create('a');
    expect(first.status).toBe(503);
    expect(first.json.error.code).toBe('serviceNotAvailable');
    expect(first.headers.get('retry-after')).toBe('7');
    expect((await create('a')).status).toBe(503);
    expect((await create('a')).status).toBe(201);
    expect(env.emulator.state.items(env.list)).toHaveLength(1);
  });

  it('injects 429 and 500 with Graph error codes', async () => {
    await inject([
      { kind: 'status', status: 429 },
      { kind: 'status', status: 500 },
    ]);
    const throttled = await create('a');
    expect([throttled.status, throttled.json.error.code, throttled.headers.get('retry-after')]).toEqual([429, 'activityLimitReached', '1']);
    const failed = await create('a');
    expect([failed.status, failed.json.error.code]).toEqual([500, 'generalException']);
    expect(env.emulator.state.metrics().throttled).toBe(1);
  });

  it('applies a fault only to its list and operation', async () => {
    const other = itemsPath(env.emulator, await createList(env.emulator, 'Calm'));
    await inject({ kind: 'status', status: 503, count: 5, scope: { list: 'Faulty', op: 'delete' } });
    await create('a');
    expect((await raw(env.emulator, 'POST', other, { fields: {} })).status).toBe(201);
    expect((await raw(env.emulator, 'GET', `${env.items}/1`)).status).toBe(200);
    expect((await raw(env.emulator, 'DELETE', `${other}/1`)).status).toBe(204);
    expect((await raw(env.emulator, 'DELETE', `${env.items}/1`)).status).toBe(503);
    expect((await raw(env.emulator, 'GET', '/_emulator/faults')).json.value[0].remaining).toBe(4);
    expect((await raw(env.emulator, 'DELETE', '/_emulator/faults')).status).toBe(204);
    expect((await raw(env.emulator, 'DELETE', `${env.items}/1`)).status).toBe(204);
  });

  it('appliedButLost commits the write but the client sees 500', async () => {
    await inject({ kind: 'appliedButLost', scope: { op: 'create' } });
    const lost = await create('lost-1');
    expect(lost.status).toBe(500);
    expect(lost.json.error.code).toBe('generalException');
    expect(env.emulator.state.items(env.list).map((i) => i.fields.SyncKey)).toEqual(['lost-1']);
    // The retry meets the unique SyncKey and can adopt the item it already made.
    expect((await create('lost-1')).status).toBe(409);
  });

  it('appliedButLost waits for a write that applies: a refused create gets its real answer', async () => {
    await create('taken');
    await inject({ kind: 'appliedButLost', scope: { op: 'create' } });
    const refused = await create('taken');
    expect(refused.status).toBe(409);
    expect((await create('fresh')).status).toBe(500);
    expect(env.emulator.state.items(env.list).map((i) => i.fields.SyncKey)).toEqual(['taken', 'fresh']);
  });

  it('appliedButLost does not spend itself on reads', async () => {
    await inject({ kind: 'appliedButLost' });
    expect((await raw(env.emulator, 'GET', env.items)).status).toBe(200);
    expect((await create('x')).status).toBe(500);
  });

  it('appliedButLost with mode reset commits the write and drops the connection', async () => {
    await inject({ kind: 'appliedButLost', mode: 'reset' });
    await expect(create('dropped')).rejects.toThrow();
    expect(env.emulator.state.items(env.list).map((i) => i.fields.SyncKey)).toEqual(['dropped']);
  });

  it('a reset fault drops the connection without applying the write', async () => {
    await inject({ kind: 'reset', scope: { op: 'create' } });
    await expect(create('never')).rejects.toThrow();
    expect(env.emulator.state.items(env.list)).toHaveLength(0);
    expect((await create('never')).status).toBe(201);
  });

  it('fails inner requests of a batch, each inside the 200 response', async () => {
    await inject({ kind: 'status', status: 503, count: 1, scope: { op: 'create' } });
    const res = await raw(env.emulator, 'POST', '/$batch', {
      requests: ['a', 'b'].map((k) => ({ id: k, method: 'POST', url: env.items, headers: JSON_HEADERS, body: { fields: { SyncKey: k } } })),
    });
    expect(res.status).toBe(200);
    expect(res.json.responses.map((r: { status: number }) => r.status)).toEqual([503, 201]);
  });

  it('appliedButLost inside a batch applies the writes and loses the whole batch response', async () => {
    await inject({ kind: 'appliedButLost', scope: { op: 'create' } });
    const res = await raw(env.emulator, 'POST', '/$batch', {
      requests: ['a', 'b'].map((k) => ({ id: k, method: 'POST', url: env.items, headers: JSON_HEADERS, body: { fields: { SyncKey: k } } })),
    });
    expect(res.status).toBe(500);
    expect(env.emulator.state.items(env.list).map((i) => i.fields.SyncKey)).toEqual(['a', 'b']);
  });

  it('a batch-scoped fault fails the envelope without running the inner requests', async () => {
    await inject({ kind: 'status', status: 503, scope: { op: 'batch' } });
    const res = await raw(env.emulator, 'POST', '/$batch', {
      requests: [{ id: '1', method: 'POST', url: env.items, headers: JSON_HEADERS, body: { fields: { SyncKey: 'k' } } }],
    });
    expect(res.status).toBe(503);
    expect(env.emulator.state.items(env.list)).toHaveLength(0);
  });

  it('the Graph client retries an injected 503 by itself and succeeds', async () => {
    await inject({ kind: 'status', status: 503, count: 1, retryAfter: 0 });
    const created = await graphClient(env.emulator).api(env.items).post({ fields: { SyncKey: 'retried' } });
    expect(created.fields.SyncKey).toBe('retried');
    expect(env.emulator.state.metrics().byStatus).toMatchObject({ '503': 1, '201': 2 });
  });

  it('refuses an invalid fault with 400', async () => {
    expect((await inject({ kind: 'status', status: 200 })).status).toBe(400);
    expect((await inject({ kind: 'explode' })).status).toBe(400);
    expect((await inject({ kind: 'reset', scope: { op: 'merge' } })).status).toBe(400);
  });
});
