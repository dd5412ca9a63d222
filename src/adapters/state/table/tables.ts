import type { TokenCredential } from '@azure/core-auth';
import { odata, RestError, TableClient, type TableEntity, type TableEntityResult } from '@azure/data-tables';
import type { Page } from '../../../core/ports/state';
import { chunk, decodePageToken, encodePageToken, invalidInput, mapLimit, rethrowIfSyncError, stateConflict, stateUnavailable, type PageRequest } from '../common';
import { checkEntitySize, type Props } from './keys';

/**
 * The tables of one Table Storage state store and the row access every aggregate uses. Every
 * key part is escaped by `encodeKey` before it reaches here.
 *
 * - `<p>Config`    PK = source | sharepoint | definition, RK = id; the record as chunked JSON.
 * - `<p>Ledger`    PK = definition; `k_<hash>` (the entry) and `i_<list>_<item>` (reverse
 *                  index → hash), always changed together in one entity-group transaction.
 * - `<p>Runs`      PK = definition, RK = `<inverted startedAt>_<runId>` (newest first);
 *   `<p>RunIds`    PK = runId → where the run row lives (runs are addressed by id alone).
 * - `<p>Cursors`   PK = definition, RK = source.    `<p>Failures` PK = definition, RK = hash.
 * - `<p>Moves`     PK = definition; `g_<moveId>` guard (idempotency) + `t_<inverted at>_<moveId>`.
 * - `<p>Leases`    PK = lease name.  `<p>Schedule` PK = definition, one row per value.  `<p>Drift` PK = definition, RK = report.
 * - `<p>Failover`  PK = definition; `h_<source>` health, `g_<eventId>` guard + `t_<inverted at>_<eventId>` events.
 * - `<p>Plans`     PK = run, RK = `<op>_<list>_<page>`: a dry run's plan in pages.
 *
 * Concurrency is optimistic throughout: conditional writes with ETags (If-Match), creates
 * that fail when the row exists, and retry loops that re-read on 409/412.
 */

export type TableConnection = { connectionString: string } | { accountUrl: string; credential: TokenCredential };

export const TABLES = ['Config', 'Ledger', 'Runs', 'RunIds', 'Cursors', 'Failures', 'Moves', 'Leases', 'Schedule', 'Drift', 'Failover', 'Plans'] as const;
export type TableName = (typeof TABLES)[number];
export type Row = TableEntityResult<Props>;

/** Table Storage allows at most 15 comparisons in one $filter: one PartitionKey + 14 RowKeys. */
const FILTER_ROWKEYS = 14;
/** How often an optimistic write re-reads and tries again after losing a race. */
export const CONTENTION_ATTEMPTS = 12;

const statusOf = (error: unknown): number | undefined =>
  error instanceof RestError ? error.statusCode : typeof error === 'object' && error !== null ? ((error as { statusCode?: number }).statusCode ?? undefined) : undefined;
export const isStatus = (error: unknown, ...codes: number[]) => codes.includes(statusOf(error) ?? -1);

/** The SyncError for a failed Table Storage call (409/412: conflict; 400/413: a record it refused; else unavailable). */
export function fail(error: unknown, what: string): never {
  rethrowIfSyncError(error);
  const status = statusOf(error);
  if (status === 409 || status === 412) throw stateConflict(`${what}: the record changed or already exists`, error);
  if (status === 400 || status === 413) throw invalidInput(`${what}: Table Storage refused the record (${(error as Error).message.split('\n')[0]})`);
  throw stateUnavailable(`${what}: Table Storage is unavailable`, error);
}

/** Contention that outlasted the retries is transient: the caller's retry (a redelivery) will get through. */
export const stillContended = (what: string, error?: unknown) => stateUnavailable(`${what}: kept colliding with concurrent writers; retry later`, error);

/** The character after a prefix's last: `RowKey ge 'k_' and RowKey lt 'k`'` selects exactly the `k_` rows. */
export const after = (prefix: string) => prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);

export interface TableAccessOptions {
  /** How `getMany` fetches rows: parallel point reads, or OR'ed RowKey filters. */
  lookup: 'point' | 'filter';
  /** Requests in flight for one batch read or write. */
  concurrency: number;
  /** How long run-row updates keep retrying under contention; unset = the default. */
  counterDeadlineMs?: number;
}

export class StateTables {
  readonly client: Record<TableName, TableClient>;

  constructor(
    connection: TableConnection,
    prefix: string,
    readonly options: TableAccessOptions,
  ) {
    if (!/^[A-Za-z][A-Za-z0-9]{0,50}$/.test(prefix)) throw invalidInput(`table prefix '${prefix}' must be letters and digits, starting with a letter`);
    const open = (name: string): TableClient => {
      if ('connectionString' in connection) {
        // Azurite speaks plain HTTP; the SDK refuses that unless told it is intended.
        const insecure = /(^|;)\s*(DefaultEndpointsProtocol=http|TableEndpoint=http:|UseDevelopmentStorage=true)/i.test(connection.connectionString);
        return TableClient.fromConnectionString(connection.connectionString, name, { allowInsecureConnection: insecure });
      }
      return new TableClient(connection.accountUrl, name, connection.credential);
    };
    this.client = Object.fromEntries(TABLES.map((t) => [t, open(`${prefix}${t}`)])) as Record<TableName, TableClient>;
  }

  /** Requests in flight for entity-group transactions, which each carry up to 100 operations. */
  get transactionConcurrency(): number {
    return Math.max(1, Math.floor(this.options.concurrency / 4));
  }

  async get(table: TableName, pk: string, rk: string): Promise<Row | null> {
    try {
      return await this.client[table].getEntity<Props>(pk, rk);
    } catch (error) {
      if (isStatus(error, 404)) return null;
      fail(error, `reading ${table}`);
    }
  }

  /**
   * Fetches many rows of one partition, keyed by row key. Point reads (the default) cost the
   * same at any partition size; OR'ed filters are faster on Azurite, but on the service they
   * scan the partition (see `TableStateStoreOptions.lookup`).
   */
  async getMany(table: TableName, pk: string, rks: string[]): Promise<Map<string, Row>> {
    const out = new Map<string, Row>();
    const unique = [...new Set(rks)];
    if (unique.length === 0) return out;
    if (this.options.lookup === 'point') {
      const rows = await mapLimit(unique, this.options.concurrency, (rk) => this.get(table, pk, rk));
      for (const row of rows) if (row) out.set(row.rowKey ?? '', row);
      return out;
    }
    await mapLimit(chunk(unique, FILTER_ROWKEYS), this.transactionConcurrency, async (keys) => {
      const filter = `${odata`PartitionKey eq ${pk}`} and (${keys.map((k) => odata`RowKey eq ${k}`).join(' or ')})`;
      for (const row of await this.query(table, filter)) out.set(row.rowKey ?? '', row);
    });
    return out;
  }

  async query(table: TableName, filter: string, limit = Infinity, pageSize = 1000): Promise<Row[]> {
    const out: Row[] = [];
    try {
      const pages = this.client[table].listEntities<Props>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(pageSize, limit, 1000) });
      for await (const page of pages) {
        for (const row of page) {
          out.push(row);
          if (out.length >= limit) return out;
        }
      }
    } catch (error) {
      fail(error, `querying ${table}`);
    }
    return out;
  }

  /** Up to `limit` rows of a partition with row keys in [ge, lt) — or (gt, lt) after a row key. */
  rangeOf(table: TableName, pk: string, range: { ge: string; lt: string }, limit: number, afterKey?: string): Promise<Row[]> {
    const lower = afterKey === undefined ? odata`RowKey ge ${range.ge}` : odata`RowKey gt ${afterKey}`;
    return this.query(table, `${odata`PartitionKey eq ${pk}`} and ${lower} and ${odata`RowKey lt ${range.lt}`}`, limit, limit);
  }

  async remove(table: TableName, pk: string, rk: string, etag?: string): Promise<boolean> {
    try {
      await this.client[table].deleteEntity(pk, rk, etag ? { etag } : undefined);
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return false;
      fail(error, `deleting from ${table}`);
    }
  }

  /** Inserts or replaces a row whatever is stored; `what` names the record in errors ("drift report 'r1'"). */
  async upsert(table: TableName, entity: Props, what: string): Promise<void> {
    checkEntitySize(entity, what);
    try {
      await this.client[table].upsertEntity(entity as TableEntity<Props>, 'Replace');
    } catch (error) {
      fail(error, `saving ${what}`);
    }
  }

  /** Creates `entity` where `read` found no row, else replaces that row under its ETag; false when another writer changed it first. */
  async putUnderEtag(table: TableName, read: Row | null, entity: TableEntity<Props>, what: string): Promise<boolean> {
    try {
      if (read) await this.client[table].updateEntity(entity, 'Replace', { etag: read.etag });
      else await this.client[table].createEntity(entity);
      return true;
    } catch (error) {
      if (isStatus(error, 404, 409, 412)) return false;
      fail(error, what);
    }
  }

  /** Deletes the row read, under its ETag; false when another writer changed it first (a row already gone counts as deleted). */
  async removeUnderEtag(table: TableName, read: Row, what: string): Promise<boolean> {
    try {
      await this.client[table].deleteEntity(read.partitionKey ?? '', read.rowKey ?? '', { etag: read.etag });
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return true;
      if (isStatus(error, 412)) return false;
      fail(error, what);
    }
  }

  /** Newest-first keyset paging over row keys (in [ge, lt)) that embed an inverted time. */
  async page<T>(table: TableName, pk: string, range: { ge: string; lt: string }, request: PageRequest, map: (row: Row) => T): Promise<Page<T>> {
    const from = decodePageToken(request.next, (v): v is string => typeof v === 'string' && v >= range.ge && v < range.lt);
    const rows = await this.rangeOf(table, pk, range, request.limit + 1, from);
    const items = rows.slice(0, request.limit);
    const last = items[items.length - 1];
    return rows.length > request.limit && last ? { items: items.map(map), next: encodePageToken(last.rowKey) } : { items: items.map(map) };
  }
}
