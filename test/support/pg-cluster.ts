import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort, startPostgres, type PostgresHandle } from '../../src/local/services';

const run = promisify(execFile);
const PG_BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * Two database servers for failover tests. `streaming`: a PostgreSQL primary this harness
 * initdb's itself and a streaming standby made from it with `pg_basebackup -R`, so an outage is
 * a real server stopping and a promotion is `pg_promote()`. `pglite` (a machine without the
 * PostgreSQL binaries): two PGlite servers, kept in step by `write`, which the test names.
 */
export interface PgCluster {
  kind: 'streaming' | 'pglite';
  primaryUrl: string;
  standbyUrl: string;
  /** Runs SQL on the primary and returns once the standby has it too. */
  write(sql: string): Promise<void>;
  /** Runs SQL on the standby alone (after a promotion: the new primary). */
  writeStandby(sql: string): Promise<void>;
  /** Rows of a query on the standby. */
  queryStandby<R = Record<string, unknown>>(sql: string): Promise<R[]>;
  /** A real outage: the primary's server stops at once (immediate shutdown, no checkpoint). */
  stopPrimary(): Promise<void>;
  /** What a DBA does after the outage: the standby becomes writable. */
  promoteStandby(): Promise<void>;
  close(): Promise<void>;
}

export const streamingReplicationAvailable = (): boolean => process.env.TEST_PG_CLUSTER !== 'pglite' && existsSync(path.join(PG_BIN, 'initdb')) && existsSync(path.join(PG_BIN, 'pg_basebackup'));

export async function startPgCluster(): Promise<PgCluster> {
  return streamingReplicationAvailable() ? startStreamingCluster() : startPgliteCluster();
}

/** PostgreSQL refuses to run as root: run its binaries as `postgres` then. */
function asServerUser(binary: string, args: string[]): [string, string[]] {
  const full = path.join(PG_BIN, binary);
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', full, ...args]] : [full, args];
}

async function pgBin(binary: string, args: string[]): Promise<void> {
  const [cmd, argv] = asServerUser(binary, args);
  await run(cmd, argv, { timeout: 60_000 });
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function startStreamingCluster(): Promise<PgCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pg-cluster-'));
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  await chmod(dir, 0o700);
  const primaryDir = path.join(dir, 'primary');
  const standbyDir = path.join(dir, 'standby');
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const settings = (port: number) =>
    [`port = ${port}`, `listen_addresses = '127.0.0.1'`, `unix_socket_directories = '${dir}'`, 'wal_level = replica', 'max_wal_senders = 5', 'hot_standby = on', 'fsync = off', 'synchronous_commit = off', 'full_page_writes = off', "shared_buffers = '16MB'", 'max_connections = 40', ''].join('\n');

  await pgBin('initdb', ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  // pg_hba is owned by postgres; appending as root keeps its owner.
  await appendFile(path.join(primaryDir, 'pg_hba.conf'), '\nhost replication all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 trust\n');
  await appendFile(path.join(primaryDir, 'postgresql.conf'), `\n${settings(primaryPort)}`);
  await pgBin('pg_ctl', ['-D', primaryDir, '-l', path.join(dir, 'primary.log'), '-w', '-t', '60', 'start']);
  await pgBin('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', standbyDir, '-R', '-X', 'stream', '--no-sync']);
  await appendFile(path.join(standbyDir, 'postgresql.conf'), `\nport = ${standbyPort}\n`);
  await pgBin('pg_ctl', ['-D', standbyDir, '-l', path.join(dir, 'standby.log'), '-w', '-t', '60', 'start']);

  const primaryUrl = `postgres://postgres@127.0.0.1:${primaryPort}/postgres`;
  const standbyUrl = `postgres://postgres@127.0.0.1:${standbyPort}/postgres`;
  let primaryRunning = true;
  const stop = (d: string, mode: 'fast' | 'immediate') => pgBin('pg_ctl', ['-D', d, '-m', mode, '-w', '-t', '60', 'stop']).catch(() => undefined);

  return {
    kind: 'streaming',
    primaryUrl,
    standbyUrl,
    async write(sql) {
      const lsn = await withClient(primaryUrl, async (c) => {
        await c.query(sql);
        // The insert position, not the write position: with synchronous_commit off the commit record
        // may still sit in the WAL buffers, behind pg_current_wal_lsn().
        return (await c.query('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0].lsn as string;
      });
      // Streaming is asynchronous: wait until the standby has replayed what was just committed.
      await withClient(standbyUrl, async (c) => {
        const deadline = Date.now() + 30_000;
        while (!(await c.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn])).rows[0].ok) {
          if (Date.now() > deadline) throw new Error('the standby did not catch up in 30 s');
          await new Promise((r) => setTimeout(r, 25));
        }
      });
    },
    writeStandby: (sql) => withClient(standbyUrl, async (c) => void (await c.query(sql))),
    queryStandby: (sql) => withClient(standbyUrl, async (c) => (await c.query(sql)).rows),
    async stopPrimary() {
      primaryRunning = false;
      await stop(primaryDir, 'immediate');
    },
    async promoteStandby() {
      await withClient(standbyUrl, (c) => c.query('SELECT pg_promote(true, 60)'));
    },
    async close() {
      if (primaryRunning) await stop(primaryDir, 'fast');
      await stop(standbyDir, 'fast');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Two independent PGlite servers; `write` applies each statement to both, standing in for replication. */
async function startPgliteCluster(): Promise<PgCluster> {
  let primary: PostgresHandle | null = await startPostgres({ forcePglite: true });
  const standby = await startPostgres({ forcePglite: true });
  const [primaryUrl, standbyUrl] = [primary.url, standby.url];
  return {
    kind: 'pglite',
    primaryUrl,
    standbyUrl,
    async write(sql) {
      await withClient(primaryUrl, (c) => c.query(sql));
      await withClient(standbyUrl, (c) => c.query(sql));
    },
    writeStandby: (sql) => withClient(standbyUrl, async (c) => void (await c.query(sql))),
    queryStandby: (sql) => withClient(standbyUrl, async (c) => (await c.query(sql)).rows),
    async stopPrimary() {
      await primary?.stop();
      primary = null;
    },
    async promoteStandby() {
      // A PGlite server is always writable: nothing to promote.
    },
    async close() {
      await primary?.stop();
      await standby.stop();
    },
  };
}
