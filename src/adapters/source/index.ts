import { createHash } from 'node:crypto';
import sql from 'mssql';
import type { SourceConnection } from '../../core/definitions';
import { configError } from '../../core/errors';
import type { Secrets } from '../../core/ports/secrets';
import type { SourceDatabase } from '../../core/ports/source';
import type { SourceAdapterOptions } from './base';
import { MODULE } from './errors';
import { PostgresSource, type PostgresSourceOptions } from './postgres';
import { SqlServerSource, type SqlServerSourceOptions } from './sqlserver';

export { PostgresSource, quotePg } from './postgres';
export { SqlServerSource, quoteTsql } from './sqlserver';
export type { QueryEvent, SourceAdapterOptions } from './base';

export interface SourceFactoryOptions extends SourceAdapterOptions {
  /** Pool cache to use; false = a fresh adapter the caller owns and closes. Default: the process-wide cache. */
  cache?: SourcePoolCache | false;
  statementTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** SQL Server only: replaces the driver (unit tests). */
  createPool?: SqlServerSourceOptions['createPool'];
}

export interface ResolvedCredentials {
  user: string;
  password: string;
}

function looksLikeConnectionString(secret: string): boolean {
  return /(^|;)\s*(password|pwd)\s*=/i.test(secret);
}

function mismatch(field: string): Error {
  // names the field, never the secret's content
  return configError(MODULE, 'secret_mismatch', `the connection's secret names a different ${field} than the connection record; fix one of them`, {
    details: [{ path: field, message: 'differs from the secret', code: 'secret_mismatch' }],
  });
}

const sameHost = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/**
 * The secret holds a password, or a full connection string (SQL Server: `Server=…;Password=…`;
 * PostgreSQL: `postgres://user:password@host/db`). The record stays the truth for where to
 * connect: a connection string that names another server, database or user is refused rather
 * than silently overriding what the API shows.
 */
export function resolveCredentials(conn: SourceConnection, secret: string): ResolvedCredentials {
  if (conn.engine === 'postgres' && /^postgres(ql)?:\/\//i.test(secret)) {
    let url: URL;
    try {
      url = new URL(secret);
    } catch {
      throw configError(MODULE, 'secret_invalid', `secret '${conn.secretRef}' is not a valid PostgreSQL URL`);
    }
    if (url.hostname && !sameHost(url.hostname, conn.host)) throw mismatch('host');
    const db = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (db && db !== conn.database) throw mismatch('database');
    const user = decodeURIComponent(url.username);
    if (user && user !== conn.user) throw mismatch('user');
    return { user: conn.user, password: decodeURIComponent(url.password) };
  }
  if (conn.engine === 'sqlserver' && looksLikeConnectionString(secret)) {
    let parsed: ReturnType<typeof sql.ConnectionPool.parseConnectionString>;
    try {
      parsed = sql.ConnectionPool.parseConnectionString(secret);
    } catch {
      // the parser's message could quote the string: report only that it failed
      throw configError(MODULE, 'secret_invalid', `secret '${conn.secretRef}' is not a valid SQL Server connection string`);
    }
    const server = String(parsed.server ?? '').replace(/^tcp:/i, '').split(/[,\\]/)[0] ?? '';
    if (server && !sameHost(server, conn.host)) throw mismatch('host');
    if (parsed.database && parsed.database !== conn.database) throw mismatch('database');
    if (parsed.user && parsed.user !== conn.user) throw mismatch('user');
    if (parsed.password === undefined) throw configError(MODULE, 'secret_invalid', `secret '${conn.secretRef}' has no Password`);
    return { user: conn.user, password: parsed.password };
  }
  return { user: conn.user, password: secret };
}

/** Hash of everything that shapes a pool, the secret included (as a hash), so a rotated password gets a new pool. */
export function configHash(conn: SourceConnection, secret: string): string {
  const secretHash = createHash('sha256').update(secret).digest('hex');
  const shape = {
    engine: conn.engine,
    host: conn.host,
    port: conn.port ?? null,
    database: conn.database,
    user: conn.user,
    secretRef: conn.secretRef,
    tls: conn.tls ?? null,
    options: conn.options ?? null,
  };
  return createHash('sha256').update(JSON.stringify(shape)).update('\0').update(secretHash).digest('hex');
}

function build(conn: SourceConnection, creds: ResolvedCredentials, opts: SourceFactoryOptions): SourceDatabase {
  const tls = conn.tls ? { enabled: conn.tls.enabled, rejectUnauthorized: conn.tls.rejectUnauthorized, serverName: conn.tls.serverName } : undefined;
  const common = {
    connectTimeoutMs: conn.options?.connectTimeoutMs,
    poolMax: conn.options?.poolMax,
    idleTimeoutMs: opts.idleTimeoutMs,
    schemaCacheTtlMs: opts.schemaCacheTtlMs,
    onQuery: opts.onQuery,
  };
  if (conn.engine === 'postgres') {
    const pgOptions: PostgresSourceOptions = { ...common, statementTimeoutMs: opts.statementTimeoutMs };
    return new PostgresSource({ host: conn.host, port: conn.port, database: conn.database, user: creds.user, password: creds.password, tls }, pgOptions);
  }
  const msOptions: SqlServerSourceOptions = { ...common, requestTimeoutMs: opts.statementTimeoutMs, createPool: opts.createPool };
  return new SqlServerSource({ host: conn.host, port: conn.port, database: conn.database, user: creds.user, password: creds.password, tls }, msOptions);
}

/**
 * One pool per connection record. A changed record or a rotated secret yields a new hash: the
 * old pool is closed and replaced. Concurrent callers for the same record share one build.
 */
export class SourcePoolCache {
  private readonly entries = new Map<string, { hash: string; db: Promise<SourceDatabase> }>();

  async get(conn: SourceConnection, secrets: Secrets, opts: SourceFactoryOptions = {}): Promise<SourceDatabase> {
    const secret = await secrets.get(conn.secretRef);
    const hash = configHash(conn, secret);
    const existing = this.entries.get(conn.id);
    if (existing && existing.hash === hash) return existing.db;
    if (existing) {
      this.entries.delete(conn.id);
      void existing.db.then((db) => db.close()).catch(() => undefined);
    }
    const db = Promise.resolve().then(() => {
      const adapter = build(conn, resolveCredentials(conn, secret), opts);
      const close = adapter.close.bind(adapter);
      // closing a cached adapter also forgets it, so nobody is handed a closed pool later
      adapter.close = async () => {
        if (this.entries.get(conn.id)?.hash === hash) this.entries.delete(conn.id);
        await close();
      };
      return adapter;
    });
    this.entries.set(conn.id, { hash, db });
    db.catch(() => {
      if (this.entries.get(conn.id)?.hash === hash) this.entries.delete(conn.id);
    });
    return db;
  }

  /** Closes and forgets the pool of one connection (record deleted or changed). */
  async evict(connectionId: string): Promise<void> {
    const entry = this.entries.get(connectionId);
    if (!entry) return;
    this.entries.delete(connectionId);
    await (await entry.db.catch(() => null))?.close();
  }

  async closeAll(): Promise<void> {
    const ids = [...this.entries.keys()];
    await Promise.all(ids.map((id) => this.evict(id)));
  }

  get size(): number {
    return this.entries.size;
  }
}

export const defaultSourceCache = new SourcePoolCache();

/** Builds (or reuses) the adapter for a source connection; the password comes through the Secrets port. */
export async function createSourceDatabase(conn: SourceConnection, secrets: Secrets, opts: SourceFactoryOptions = {}): Promise<SourceDatabase> {
  if (opts.cache === false) {
    const secret = await secrets.get(conn.secretRef);
    return build(conn, resolveCredentials(conn, secret), opts);
  }
  return (opts.cache ?? defaultSourceCache).get(conn, secrets, opts);
}
