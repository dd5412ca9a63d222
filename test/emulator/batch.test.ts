import { BatchRequestContent, BatchResponseContent } from '@microsoft/microsoft-graph-client';
import { graphClient, raw, useEmulatorWithList } from './helpers';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

describe('Graph emulator: $batch', () => {
  const env = useEmulatorWithList('Batched');

  const create = (id: string, syncKey: string, extra: Record<string, unknown> = {}) => ({
    id,
    method: 'POST',
    url: env.items,
    headers: JSON_HEADERS,
    body: { fields: { SyncKey: syncKey } },
    ...extra,
  });

  it('answers a batch of 20 creates with 200 and a status per request', async () => {
    const requests = Array.from({ length: 20 }, (_, i) => create(String(i + 1), `k${i}`));
    const res = await raw(env.emulator, 'POST', '/$batch', { requests });
    expect(res.status).toBe(200);
    expect(res.json.responses).toHaveLength(20);
    expect(res.json.responses.every((r: { status: number }) => r.status === 201)).toBe(true);
    expect(res.json.responses[0].body.fields.SyncKey).toBe('k0');
    expect(env.emulator.state.items(env.list)).toHaveLength(20);
  });

  it('refuses a batch of 21 requests with 400 and applies none', async () => {
    const requests = Array.from({ length: 21 }, (_, i) => create(String(i + 1), `k${i}`));
    const res = await raw(env.emulator, 'POST', '/$batch', { requests });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('20');
    expect(env.emulator.state.items(env.list)).toHaveLength(0);
  });

  it('gives 424 to a request that depends on a failed one, and runs the others', async () => {
    await raw(env.emulator, 'POST', env.items, { fields: { SyncKey: 'taken' } });
    const res = await raw(env.emulator, 'POST', '/$batch', {
      requests: [
        create('1', 'taken'),
        { id: '2', method: 'PATCH', url: `${env.items}/1/fields`, headers: JSON_HEADERS, body: { Title: 'x' }, dependsOn: ['1'] },
        create('3', 'free'),
      ],
    });
    expect(res.status).toBe(200);
    const status = Object.fromEntries(res.json.responses.map((r: { id: string; status: number }) => [r.id, r.status]));
    expect(status).toEqual({ '1': 409, '2': 424, '3': 201 });
    expect(res.json.responses[0].body.error.code).toBe('nameAlreadyExists');
  });

  it('reports a bad field value as a per-request error that names the field', async () => {
    const res = await raw(env.emulator, 'POST', '/$batch', {
      requests: [create('a', 'ok'), { ...create('b', 'bad'), body: { fields: { SyncKey: 'bad', Nope: 1 } } }],
    });
    const b = res.json.responses.find((r: { id: string }) => r.id === 'b');
    expect(b.status).toBe(400);
    expect(b.body.error.message).toContain("'Nope'");
    expect(env.emulator.state.items(env.list).map((i) => i.fields.SyncKey)).toEqual(['ok']);
  });

  it('refuses a write without Content-Type, as Graph does', async () => {
    const res = await raw(env.emulator, 'POST', '/$batch', {
      requests: [{ id: '1', method: 'POST', url: env.items, body: { fields: { SyncKey: 'k' } } }],
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('Content-Type');
  });

  it('resolves inner urls relative to the version, so a /v1.0 prefix fails that request', async () => {
    const res = await raw(env.emulator, 'POST', '/$batch', {
      requests: [{ id: '1', method: 'GET', url: `/v1.0${env.items}` }, { id: '2', method: 'GET', url: env.items.slice(1) }],
    });
    expect(res.json.responses.map((r: { status: number }) => r.status)).toEqual([400, 200]);
  });

  it('charges every inner request and nothing for the envelope', async () => {
    env.emulator.state.resetMetrics();
    await raw(env.emulator, 'POST', '/$batch', {
      requests: [create('1', 'a'), create('2', 'b'), { id: '3', method: 'GET', url: `${env.items}/1` }],
    });
    const m = env.emulator.state.metrics();
    expect(m.ru.total).toBe(5);
    expect(m).toMatchObject({ requests: 3, httpRequests: 1, batches: 1 });
  });

  it('works with the Graph client batch helpers', async () => {
    const client = graphClient(env.emulator);
    const content = new BatchRequestContent(
      ['1', '2'].map((id) => ({
        id,
        request: new Request(`${env.emulator.url}${env.items}`, {
          method: 'POST',
          headers: JSON_HEADERS,
          body: JSON.stringify({ fields: { SyncKey: `client-${id}` } }),
        }),
      })),
    );
    const response = new BatchResponseContent(await client.api('/$batch').post(await content.getContent()));
    expect(response.getResponseById('1').status).toBe(201);
    expect(((await response.getResponseById('2').json()) as { fields: { SyncKey: string } }).fields.SyncKey).toBe('client-2');
  });
});
