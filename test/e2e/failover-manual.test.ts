import { Client } from 'pg';
import { SyncDefinitionInput, type SyncDefinitionInput as DefinitionInput } from '../../src/core/definitions';
import { isSyncError } from '../../src/core/errors';
import { freePort } from '../../src/local/services';
import type { SyncDeps } from '../../src/sync/deps';
import { probeAndFailover } from '../../src/sync/failover/automatic';
import { failover, type FailoverRequest } from '../../src/sync/failover/failover';
import { assertInvariant } from '../support/invariant';
import { startFailoverStack, type FailoverStack } from '../support/failover-stack';
import { streamingReplicationAvailable, type PgCluster } from '../support/pg-cluster';
import type { Stack } from '../support/stack';

/**
 * Manual failover and its cursor policies, on a primary and its standby (both up): `carry`
 * continues where the old primary's cursor stood, `rescan` reads everything again and writes
 * nothing that is unchanged. Also: one primary under concurrent requests, a target failing its
 * probe is refused, and automatic failover waits out the hold-down time.
 */
const servers = streamingReplicationAvailable() ? 'a PostgreSQL primary and its streaming standby' : 'two PGlite databases kept in step by the test';

describe(`manual failover (${servers})`, () => {
  let env: FailoverStack;
  let stack: Stack;
  let cluster: PgCluster;
  let standby: Client;
  let deps: SyncDeps;
  const request = (to: string, cursorPolicy: 'carry' | 'rescan', extra: Partial<FailoverRequest> = {}): FailoverRequest => ({ to, cursorPolicy, trigger: 'manual', by: 'admin@test', reason: 'test', leaseWaitMs: 5000, ...extra });

  const addSource = (id: string, url: string) => env.addSource(id, url);
  const addDefinition = async (id: string, table: string, cursor: DefinitionInput['cursor'], extra: Partial<DefinitionInput> = {}) => {
    const definition = SyncDefinitionInput.parse({
      id,
      sources: [
        { connectionId: 'db-a', role: 'primary', priority: 0 },
        { connectionId: 'db-b', role: 'secondary', priority: 1 },
      ],
      table: { schema: 'public', name: table },
      title: 'label',
      fields: [{ source: 'amount' }],
      cursor,
      target: { connectionId: 'sp', siteId: stack.siteId, autoProvision: true },
      sharding: { strategy: 'none', list: `List ${id}` },
      ...extra,
    });
    await stack.state.putDefinition({ definition, mappingVersion: 0, activeSourceId: definition.sources.find((s) => s.role === 'primary')!.connectionId });
    const first = await stack.run(id);
    expect(first.status).toBe('succeeded');
  };
  const runOf = async (runId: string | undefined) => {
    await stack.waitForQuiet();
    return (await stack.state.getRun(runId!))!;
  };

  beforeAll(async () => {
    env = await startFailoverStack(`
      CREATE TABLE public.events_ts (id integer PRIMARY KEY, label text NOT NULL, amount integer NOT NULL, updated_at timestamptz NOT NULL);
      INSERT INTO public.events_ts SELECT g, 'row ' || g, g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 30) g;
      CREATE TABLE public.events_int (id integer PRIMARY KEY, label text NOT NULL, amount integer NOT NULL, seq bigint NOT NULL);
      INSERT INTO public.events_int SELECT g, 'row ' || g, g, g FROM generate_series(1, 30) g;`);
    ({ stack, cluster, standby, deps } = env);
    await addSource('db-a', cluster.primaryUrl);
    await addSource('db-b', cluster.standbyUrl);
    await addSource('db-b2', cluster.standbyUrl);
    await addSource('db-dead', `postgres://postgres@127.0.0.1:${await freePort()}/postgres`);
    await addSource('db-empty', process.env.TEST_PG_URL!); // reachable, but without the tables
  }, 120_000);

  afterAll(() => env?.stop());

  it('carry on a timestamp cursor: the new primary is read from the old mark minus the look-back window, no writes', async () => {
    await addDefinition('ts-carry', 'events_ts', { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 120 });
    const event = await failover(deps, 'ts-carry', request('db-b', 'carry'));
    expect(event).toMatchObject({ from: 'db-a', to: 'db-b', trigger: 'manual', by: 'admin@test', cursorPolicy: 'carry', appliedPolicy: 'carry' });
    expect(JSON.parse(event.cursorAfter!)).toEqual({ at: 'mark', value: '2024-01-01T00:30:00.000000Z' });
    const run = await runOf(event.runId);
    // rows 28, 29 and 30 lie within 120 s of the mark (00:30)
    expect(run).toMatchObject({ status: 'succeeded', trigger: 'failover', mode: 'incremental', sourceId: 'db-b', counts: { read: 3, unchanged: 3, created: 0, updated: 0 } });
    await assertInvariant(stack, 'ts-carry', 'SELECT * FROM public.events_ts', standby);
  });

  it('rescan on a timestamp cursor: a full pass over the new primary, unchanged rows cost no writes', async () => {
    await addDefinition('ts-rescan', 'events_ts', { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 120 });
    const before = stack.emulator.state.metrics().requests;
    const event = await failover(deps, 'ts-rescan', request('db-b', 'rescan'));
    expect(event).toMatchObject({ appliedPolicy: 'rescan', cursorAfter: null });
    expect(event.cursorBefore).not.toBeNull();
    const run = await runOf(event.runId);
    expect(run).toMatchObject({ status: 'succeeded', mode: 'full', sourceId: 'db-b', counts: { read: 30, unchanged: 30, created: 0, updated: 0 } });
    expect(stack.emulator.state.metrics().requests - before).toBe(0);
  });

  it('carry on an integer cursor continues strictly after the mark: new rows on the new primary, and only they, are written', async () => {
    await addDefinition('int-carry', 'events_int', { kind: 'integer', column: 'seq' });
    const event = await failover(deps, 'int-carry', request('db-b', 'carry'));
    expect(JSON.parse(event.cursorAfter!)).toEqual({ at: 'mark', value: '30' });
    expect(await runOf(event.runId)).toMatchObject({ status: 'succeeded', counts: { read: 0, created: 0 } });
    await cluster.write(`INSERT INTO public.events_int VALUES (31, 'row 31', 31, 31), (32, 'row 32', 32, 32)`);
    const next = await stack.run('int-carry');
    expect(next).toMatchObject({ status: 'succeeded', sourceId: 'db-b', counts: { read: 2, created: 2, updated: 0 } });
    await assertInvariant(stack, 'int-carry', 'SELECT * FROM public.events_int', standby);
  });

  it('rescan on an integer cursor reads every row of the new primary and writes none that is unchanged', async () => {
    await addDefinition('int-rescan', 'events_int', { kind: 'integer', column: 'seq' });
    const event = await failover(deps, 'int-rescan', request('db-b', 'rescan'));
    const rows = (await standby.query('SELECT count(*)::int AS n FROM public.events_int')).rows[0].n as number;
    expect(await runOf(event.runId)).toMatchObject({ status: 'succeeded', mode: 'full', counts: { read: rows, unchanged: rows, created: 0, updated: 0 } });
    // failing back is a failover like any other
    const back = await failover(deps, 'int-rescan', request('db-a', 'carry'));
    expect(back).toMatchObject({ from: 'db-b', to: 'db-a' });
    await runOf(back.runId);
    expect((await stack.state.listFailoverEvents('int-rescan')).items.map((e) => e.to)).toEqual(['db-a', 'db-b']);
  });

  it('concurrent failover requests leave exactly one primary, and every success is an event', async () => {
    await addDefinition('concurrent', 'events_ts', { kind: 'timestamp', column: 'updated_at' }, {
      sources: [
        { connectionId: 'db-a', role: 'primary', priority: 0 },
        { connectionId: 'db-b', role: 'secondary', priority: 1 },
        { connectionId: 'db-b2', role: 'secondary', priority: 2 },
      ],
    });
    const targets = ['db-b', 'db-b2', 'db-b', 'db-b2', 'db-b', 'db-b2'];
    const outcomes = await Promise.allSettled(targets.map((to) => failover(deps, 'concurrent', request(to, 'carry', { leaseWaitMs: 0 }))));
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    expect(won.length).toBeGreaterThanOrEqual(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(isSyncError(o.reason) && o.reason.status === 409).toBe(true);
    await stack.waitForQuiet();
    const stored = (await stack.state.getDefinition('concurrent'))!;
    const primaries = stored.definition.sources.filter((s) => s.role === 'primary');
    expect(primaries).toHaveLength(1);
    expect(stored.activeSourceId).toBe(primaries[0]!.connectionId);
    const events = (await stack.state.listFailoverEvents('concurrent')).items;
    expect(events).toHaveLength(won.length);
    expect(events[0]!.to).toBe(stored.activeSourceId);
  });

  it('a target that fails its probe, or whose table no longer fits the mapping, is refused and nothing changes', async () => {
    await addDefinition('refused', 'events_ts', { kind: 'timestamp', column: 'updated_at' }, {
      sources: [
        { connectionId: 'db-a', role: 'primary', priority: 0 },
        { connectionId: 'db-dead', role: 'secondary', priority: 1 },
        { connectionId: 'db-empty', role: 'secondary', priority: 2 },
      ],
    });
    await expect(failover(deps, 'refused', request('db-dead', 'carry'))).rejects.toMatchObject({ code: 'failover_target_unhealthy', status: 409 });
    await expect(failover(deps, 'refused', request('db-empty', 'carry'))).rejects.toMatchObject({ code: 'failover_target_unhealthy', message: expect.stringContaining('(table)') });
    await expect(failover(deps, 'refused', request('db-a', 'carry'))).rejects.toMatchObject({ code: 'failover_target_is_primary' });
    const stored = (await stack.state.getDefinition('refused'))!;
    expect(stored.activeSourceId).toBe('db-a');
    expect((await stack.state.listFailoverEvents('refused')).items).toEqual([]);
    const dead = (await stack.state.getSourceHealth('refused')).find((h) => h.sourceId === 'db-dead');
    expect(dead).toMatchObject({ consecutiveFailures: 1, lastError: expect.stringMatching(/^connect: /) });
  });

  it('automatic failover waits out the hold-down time after the last failover, then promotes a healthy secondary', async () => {
    await addDefinition('hold-down', 'events_ts', { kind: 'timestamp', column: 'updated_at' }, {
      sources: [
        { connectionId: 'db-a', role: 'primary', priority: 0 },
        { connectionId: 'db-dead', role: 'secondary', priority: 0 },
        { connectionId: 'db-b', role: 'secondary', priority: 1 },
      ],
      failover: { automatic: true, afterFailures: 1, holdDownMinutes: 30 },
    });
    // A failover ten minutes ago left db-a as primary; now db-a goes away (its record points at a closed port).
    const start = Date.now();
    await stack.state.addFailoverEvent({ definitionId: 'hold-down', eventId: 'earlier', at: new Date(start - 10 * 60_000).toISOString(), trigger: 'manual', by: 'admin@test', from: 'db-b', to: 'db-a', cursorPolicy: 'carry', appliedPolicy: 'carry', cursorBefore: null, cursorAfter: null, reason: 'earlier' });
    const stored = (await stack.state.getDefinition('hold-down'))!;
    await stack.state.putDefinition({ ...stored, definition: { ...stored.definition, sources: stored.definition.sources.map((s) => (s.connectionId === 'db-a' ? { ...s, connectionId: 'db-dead2' } : s)) }, activeSourceId: 'db-dead2' });
    await addSource('db-dead2', `postgres://postgres@127.0.0.1:${await freePort()}/postgres`);
    const at = (minutes: number): SyncDeps => ({ ...deps, now: () => new Date(start + minutes * 60_000) });

    expect((await probeAndFailover(at(0))).failovers.filter((e) => e.definitionId === 'hold-down')).toEqual([]);
    expect((await probeAndFailover(at(15))).failovers.filter((e) => e.definitionId === 'hold-down')).toEqual([]);
    const promoted = (await probeAndFailover(at(21))).failovers.filter((e) => e.definitionId === 'hold-down');
    // db-dead has the better priority but fails its own probe: db-b is promoted
    expect(promoted).toMatchObject([{ trigger: 'automatic', from: 'db-dead2', to: 'db-b' }]);
    await stack.waitForQuiet();
    expect((await stack.state.getDefinition('hold-down'))!.activeSourceId).toBe('db-b');
  });
});
