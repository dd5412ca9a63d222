import { Client } from 'pg';
import type { SyncDeps } from '../../src/sync/deps';
import { startPgCluster, type PgCluster } from './pg-cluster';
import { startStack, type Stack } from './stack';

/** The local host stack plus a primary/standby pair, for failover tests. */
export interface FailoverStack {
  stack: Stack;
  cluster: PgCluster;
  /** A client of the standby (after a promotion: the new primary), whose rows the invariant is checked against. */
  standby: Client;
  /** Every call of the timer's health pass probes (the deployment's interval would skip most). */
  deps: SyncDeps;
  /** Registers a PostgreSQL source connection for a URL, its password as a local secret. */
  addSource(id: string, url: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startFailoverStack(setupSql: string): Promise<FailoverStack> {
  const cluster = await startPgCluster();
  const stack = await startStack();
  await cluster.write(setupSql);
  const standby = new Client({ connectionString: cluster.standbyUrl });
  await standby.connect();
  return {
    stack,
    cluster,
    standby,
    deps: { ...stack.deps, settings: { ...stack.deps.settings, probeIntervalMs: 0, probeTimeoutMs: 5000 } },
    async addSource(id, url) {
      const u = new URL(url);
      process.env[`SECRET_${stack.id.toUpperCase()}_${id.toUpperCase().replace(/-/g, '_')}`] = decodeURIComponent(u.password);
      await stack.state.putSource({ id, engine: 'postgres', host: u.hostname, port: Number(u.port || 5432), database: decodeURIComponent(u.pathname.slice(1)) || 'postgres', user: decodeURIComponent(u.username) || 'postgres', secretRef: `${stack.id}-${id}`, tls: { enabled: false, rejectUnauthorized: false } });
    },
    async stop() {
      await standby.end();
      await stack.stop();
      await cluster.close();
    },
  };
}
