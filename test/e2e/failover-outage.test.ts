import { Client } from 'pg';
import { SyncDefinitionInput } from '../../src/core/definitions';
import type { SyncDeps } from '../../src/sync/deps';
import { probeAndFailover } from '../../src/sync/failover/automatic';
import { assertInvariant } from '../support/invariant';
import { startFailoverStack, type FailoverStack } from '../support/failover-stack';
import { streamingReplicationAvailable, type PgCluster } from '../support/pg-cluster';
import type { Stack } from '../support/stack';

/**
 * Automatic failover on a real outage: a PostgreSQL primary and its streaming standby, both
 * started by the test. The primary's server is stopped; after N failed probes the definition
 * is rebound to the standby; a DBA promotes it; rows changed there sync, and the invariant holds
 * against the new primary's rows.
 */
const servers = streamingReplicationAvailable() ? 'a PostgreSQL primary and its streaming standby' : 'two PGlite databases kept in step by the test (no PostgreSQL binaries here)';

describe(`automatic failover on a real outage (${servers})`, () => {
  let env: FailoverStack;
  let stack: Stack;
  let cluster: PgCluster;
  let standby: Client;
  let deps: SyncDeps;
  const id = 'orders-ha';
  const selectAll = 'SELECT * FROM public.orders';

  beforeAll(async () => {
    env = await startFailoverStack(`
      CREATE TABLE public.orders (id integer PRIMARY KEY, customer text NOT NULL, amount numeric(10,2) NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
      INSERT INTO public.orders (id, customer, amount) SELECT g, 'Customer ' || g, g * 1.5 FROM generate_series(1, 40) g;`);
    ({ stack, cluster, standby, deps } = env);
    await env.addSource('db-a', cluster.primaryUrl);
    await env.addSource('db-b', cluster.standbyUrl);
    const definition = SyncDefinitionInput.parse({
      id,
      sources: [
        { connectionId: 'db-a', role: 'primary', priority: 0 },
        { connectionId: 'db-b', role: 'secondary', priority: 1 },
      ],
      table: { schema: 'public', name: 'orders' },
      title: 'customer',
      fields: [{ source: 'amount' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 2 },
      deletes: { mode: 'reconcile', everyRuns: 1 },
      target: { connectionId: 'sp', siteId: stack.siteId, autoProvision: true },
      sharding: { strategy: 'none', list: 'Orders HA' },
      failover: { automatic: true, afterFailures: 2, holdDownMinutes: 30 },
    });
    await stack.state.putDefinition({ definition, mappingVersion: 0, activeSourceId: 'db-a' });
  }, 120_000);

  afterAll(() => env?.stop());

  it('syncs from the primary while both servers are up, and the probes find both healthy', async () => {
    const run = await stack.run(id);
    expect(run).toMatchObject({ status: 'succeeded', sourceId: 'db-a', counts: { created: 40, failed: 0 } });
    expect((await probeAndFailover(deps)).failovers).toEqual([]);
    const health = new Map((await stack.state.getSourceHealth(id)).map((h) => [h.sourceId, h]));
    expect(health.get('db-a')).toMatchObject({ consecutiveFailures: 0, serverRole: 'primary' });
    expect(health.get('db-b')).toMatchObject({ consecutiveFailures: 0, serverRole: streamingReplicationAvailable() ? 'standby' : 'primary' });
    if (streamingReplicationAvailable()) expect(typeof health.get('db-b')!.lagSeconds).toBe('number');
    await assertInvariant(stack, id, selectAll, standby);
  });

  it('after the primary server stops, the definition is rebound to the standby on the Nth failed probe, not before', async () => {
    await cluster.stopPrimary();
    expect((await probeAndFailover(deps)).failovers).toEqual([]);
    expect((await stack.state.getSourceHealth(id)).find((h) => h.sourceId === 'db-a')).toMatchObject({ consecutiveFailures: 1, lastErrorCode: expect.any(String) });
    const { failovers } = await probeAndFailover(deps);
    expect(failovers).toHaveLength(1);
    expect(failovers[0]).toMatchObject({ trigger: 'automatic', by: 'automatic', from: 'db-a', to: 'db-b', appliedPolicy: 'carry', runId: expect.any(String) });
    // The mark carries over; the old primary's pass read time does not (the standby re-reads its look-back window).
    const { visibleBefore: _oldReadTime, ...markBefore } = JSON.parse(failovers[0]!.cursorBefore!);
    expect(JSON.parse(failovers[0]!.cursorAfter!)).toEqual(markBefore);
    const stored = (await stack.state.getDefinition(id))!;
    expect(stored.activeSourceId).toBe('db-b');
    expect(stored.definition.sources.map((s) => [s.connectionId, s.role])).toEqual([['db-a', 'secondary'], ['db-b', 'primary']]);
    // The run the failover started reads the standby and finds nothing new: no duplicates.
    await stack.waitForQuiet();
    const caughtUp = (await stack.state.getRun(failovers[0]!.runId!))!;
    expect(caughtUp).toMatchObject({ status: 'succeeded', trigger: 'failover', sourceId: 'db-b', counts: { created: 0, failed: 0 } });
    await assertInvariant(stack, id, selectAll, standby);
    // The old primary stays as a secondary marked unhealthy; a third failing probe changes nothing.
    expect((await probeAndFailover(deps)).failovers).toEqual([]);
    expect((await stack.state.getSourceHealth(id)).find((h) => h.sourceId === 'db-a')!.consecutiveFailures).toBe(3);
    expect((await stack.state.listFailoverEvents(id)).items.map((e) => [e.from, e.to])).toEqual([['db-a', 'db-b']]);
  });

  it('once the DBA promotes the standby, rows changed there sync and the invariant holds against its rows', async () => {
    await cluster.promoteStandby();
    await cluster.writeStandby(`
      UPDATE public.orders SET amount = amount + 100, updated_at = clock_timestamp() WHERE id IN (1, 2, 3);
      INSERT INTO public.orders (id, customer, amount) VALUES (41, 'Customer 41', 9), (42, 'Customer 42', 10);
      DELETE FROM public.orders WHERE id = 40;`);
    const run = await stack.run(id);
    expect(run).toMatchObject({ status: 'succeeded', sourceId: 'db-b', counts: { created: 2, updated: 3, deleted: 1, failed: 0 } });
    await assertInvariant(stack, id, selectAll, standby);
    const again = await stack.run(id);
    expect(again.counts).toMatchObject({ created: 0, updated: 0, deleted: 0 });
  });
});
