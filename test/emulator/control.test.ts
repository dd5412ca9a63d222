import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphEmulator } from '../../src/emulator';
import { createList, itemsPath, raw, startEmulator } from './helpers';

describe('Graph emulator: control and inspection endpoints', () => {
  let emulator: GraphEmulator;
  beforeAll(async () => {
    emulator = await startEmulator();
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.state.reset());

  it('counts requests, batches, RU by kind and statuses, and resets them', async () => {
    const list = await createList(emulator, 'Counted');
    const items = itemsPath(emulator, list);
    await raw(emulator, 'POST', items, { fields: { SyncKey: 'a' } });
    await raw(emulator, 'POST', items, { fields: { SyncKey: 'a' } });
    await raw(emulator, 'POST', '/$batch', { requests: [{ id: '1', method: 'GET', url: `${items}/1` }] });
    const m = (await raw(emulator, 'GET', '/_emulator/metrics')).json;
    expect(m).toMatchObject({
      requests: 4,
      httpRequests: 4,
      batches: 1,
      throttled: 0,
      byStatus: { '201': 2, '409': 1, '200': 1 },
      ru: { total: 7, byKind: { create: 6, read1: 1 } },
      window: { usedRu: 7, budgetRuPerMinute: 1_000_000 },
    });
    const reset = (await raw(emulator, 'POST', '/_emulator/metrics/reset')).json;
    expect(reset).toMatchObject({ requests: 0, ru: { total: 0 } });
  });

  it('shows lists with item counts and all items, without RU charge', async () => {
    const list = await createList(emulator, 'Shown');
    emulator.state.seedItems(list, [{ SyncKey: 'x', Title: 'X' }, { SyncKey: 'y' }]);
    emulator.state.resetMetrics();
    const lists = (await raw(emulator, 'GET', '/_emulator/lists')).json.value;
    expect(lists).toEqual([
      expect.objectContaining({ id: list, displayName: 'Shown', itemCount: 2, siteId: emulator.state.defaultSiteId }),
    ]);
    const items = (await raw(emulator, 'GET', `/_emulator/lists/Shown/items`)).json.value;
    expect(items.map((i: { id: string; fields: unknown }) => [i.id, i.fields])).toEqual([
      ['1', { SyncKey: 'x', Title: 'X' }],
      ['2', { SyncKey: 'y' }],
    ]);
    expect(emulator.state.metrics().ru.total).toBe(0);
    expect((await raw(emulator, 'GET', '/_emulator/lists/Nope/items')).status).toBe(404);
  });

  it('wipes everything back to the default site on POST /_emulator/reset', async () => {
    await createList(emulator, 'Doomed');
    await raw(emulator, 'POST', '/_emulator/faults', { kind: 'status', status: 503, count: 10 });
    expect((await raw(emulator, 'POST', '/_emulator/reset')).status).toBe(204);
    expect((await raw(emulator, 'GET', '/_emulator/lists')).json.value).toEqual([]);
    expect((await raw(emulator, 'GET', '/_emulator/faults')).json.value).toEqual([]);
    expect((await raw(emulator, 'GET', `/sites/${emulator.state.defaultSiteId}`)).status).toBe(200);
  });

  it('needs no token on control endpoints and answers unknown ones with 404', async () => {
    expect((await fetch(`${emulator.url}/_emulator/metrics`)).status).toBe(200);
    expect((await fetch(`${emulator.url}/_emulator/nothing`)).status).toBe(404);
  });
});

describe('Graph emulator: snapshot persistence', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'graph-emulator-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('saves on close and loads at the next start, with ids and unique values intact', async () => {
    const snapshotPath = join(dir, 'nested', 'graph.json');
    const first = await startEmulator({ snapshotPath });
    const list = await createList(first, 'Kept');
    const items = itemsPath(first, list);
    await raw(first, 'POST', items, { fields: { SyncKey: 'k1', Title: 'one' } });
    await raw(first, 'POST', items, { fields: { SyncKey: 'k2' } });
    await raw(first, 'DELETE', `${items}/2`);
    await first.close();
    expect(JSON.parse(await readFile(snapshotPath, 'utf8')).format).toBe('graph-emulator-snapshot');

    const second = await startEmulator({ snapshotPath });
    try {
      expect(second.state.items('Kept').map((i) => [i.id, i.fields])).toEqual([['1', { SyncKey: 'k1', Title: 'one' }]]);
      expect((await raw(second, 'POST', items, { fields: { SyncKey: 'k1' } })).status).toBe(409);
      expect((await raw(second, 'POST', items, { fields: { SyncKey: 'k3' } })).json.id).toBe('3');
    } finally {
      await second.close();
    }
  });

  it('refuses to start on a file that is not a snapshot', async () => {
    const snapshotPath = join(dir, 'bad.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(snapshotPath, '{"hello":1}'));
    await expect(startEmulator({ snapshotPath })).rejects.toThrow(/snapshot/);
  });
});

describe('Graph emulator: command line', () => {
  const tsx = join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');
  const cli = join(__dirname, '..', '..', 'src', 'emulator', 'cli.ts');

  function run(args: string[]) {
    const child = spawn(tsx, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, out: () => stdout, err: () => stderr };
  }

  it('prints its URL, serves Graph, and stops cleanly on Ctrl-C', async () => {
    const proc = run(['--port', '0', '--budget', '600', '--latency', '1']);
    const deadline = Date.now() + 15_000;
    while (!/listening on (http:\/\/\S+)\/v1\.0/.test(proc.out()) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = /listening on (http:\/\/\S+)\/v1\.0/.exec(proc.out())?.[1];
    expect(url).toBeDefined();
    const config = (await (await fetch(`${url}/_emulator/config`)).json()) as { budgetRuPerMinute: number };
    expect(config.budgetRuPerMinute).toBe(600);
    proc.child.kill('SIGINT');
    expect(await proc.exited).toBe(0);
  }, 20_000);

  it('says so in one line and exits 1 when the port is in use', async () => {
    const busy = await startEmulator();
    try {
      const proc = run(['--port', String(busy.port)]);
      expect(await proc.exited).toBe(1);
      expect(proc.err().trim()).toBe(`graph emulator: port ${busy.port} is already in use; pick another with --port`);
    } finally {
      await busy.close();
    }
  }, 20_000);
});
