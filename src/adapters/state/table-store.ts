import type { TokenCredential } from '@azure/core-auth';
import { odata, RestError, TableClient, type TableEntity, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import { notFound } from '../../core/errors';
import type {
  CursorRecord,
  DriftReportRecord,
  FailurePageOptions,
  FailureRecord,
  LedgerEntry,
  LedgerState,
  MoveRecord,
  Page,
  ProgressCounter,
  RunRecord,
  StateStore,
  StoredDefinition,
  StoredSharePoint,
  StoredSource,
} from '../../core/ports/state';
import {
  applyDeltas,
  backoff,
  checkDeltas,
  checkTtl,
  chunk,
  COUNT_KEYS,
  decodePageToken,
  encodePageToken,
  groupBy,
  invalidInput,
  isoOrThrow,
  keyAfterToken,
  mapLimit,
  MODULE,
  pageAfterKey,
  normaliseLedgerBatch,
  pageLimit,
  rethrowIfSyncError,
  stateConflict,
  stateUnavailable,
  storedErrorText,
  withoutVersion,
} from './common';
import { checkEntitySize, decodeKey, encodeKey, getJson, getText, invertedTime, num, putJson, putText, str, type Props } from './table-keys';

/**
 * StateStore on Azure Table Storage (DESIGN §4).
 *
 * Layout (every key part escaped by `encodeKey`):
 * - `<p>Config`    PK = source | sharepoint | definition, RK = id; the record as chunked JSON.
 * - `<p>Ledger`    PK = definition; `k_<hash>` (the entry) and `i_<list>_<item>` (reverse
 *                  index → hash), always changed together in one entity-group transaction.
 * - `<p>Runs`      PK = definition, RK = `<inverted startedAt>_<runId>` (newest first);
 *   `<p>RunIds`    PK = runId → where the run row lives (runs are addressed by id alone).
 * - `<p>Cursors`   PK = definition, RK = source.    `<p>Failures` PK = definition, RK = hash.
 * - `<p>Moves`     PK = definition; `g_<moveId>` guard (idempotency) + `t_<inverted at>_<moveId>`.
 * - `<p>Leases`    PK = lease name.  `<p>Schedule` PK = definition.  `<p>Drift` PK = definition, RK = report.
 *
 * Concurrency is optimistic throughout: conditional writes with ETags (If-Match), creates
 * that fail when the row exists, and retry loops that re-read on 409/412.
 */

export type TableStateStoreOptions = ({ connectionString: string } | { accountUrl: string; credential: TokenCredential }) & {
  /** Prepended to every table name so deployments and tests can share an account. */
  tablePrefix?: string;
  /**
   * How getLedger fetches a page of hashes. `point` (default): parallel point reads. `filter`:
   * OR'ed RowKey filters, 14 keys per query. On Azurite filters are ~5x faster (bench/state.ts,
   * compareTableLookups), but Azurite is not the service: there, random keys OR'ed in one filter
   * are not point lookups and the rows a query scans count against the partition's 2,000
   * entities/s target, so a ledger partition of millions of rows would be scanned per page.
   * Point reads cost the same at any partition size.
   */
  lookup?: 'point' | 'filter';
  /** Requests in flight for one batch read or write. */
  concurrency?: number;
  /** How long run-row updates keep retrying under contention (default 25 s); tests shorten it. */
  counterDeadlineMs?: number;
};

const TABLES = ['Config', 'Ledger', 'Runs', 'RunIds', 'Cursors', 'Failures', 'Moves', 'Leases', 'Schedule', 'Drift'] as const;
type TableName = (typeof TABLES)[number];
type Row = TableEntityResult<Props>;

/** An entity-group transaction takes at most 100 operations. */
const MAX_TX_OPS = 100;
/** Table Storage allows at most 15 comparisons in one $filter: one PartitionKey + 14 RowKeys. */
const FILTER_ROWKEYS = 14;
const CONTENTION_ATTEMPTS = 12;
/** Increments of a hot run row collide often; give them time rather than fail the batch. */
const COUNTER_DEADLINE_MS = 25_000;
const RUN_LOCATION_CACHE = 10_000;

/** Run rows start with the digits of an inverted time; `m_` rows beside them mark counted keys. */
const RUN_ROWS = { ge: '0', lt: ':' };
const runMarkKey = (runId: string, key: string) => `m_${encodeKey(runId)}_${encodeKey(key)}`;
const FWD = 'k_';
const REV = 'i_';
const fwdKey = (hash: string) => `${FWD}${encodeKey(hash)}`;
const revKey = (listId: string, itemId: string) => `${REV}${encodeKey(listId)}_${encodeKey(itemId)}`;
/** The character after `_`: `RowKey ge 'k_' and RowKey lt 'k`'` selects exactly the `k_` rows. */
const after = (prefix: string) => prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);

const statusOf = (error: unknown): number | undefined =>
  error instanceof RestError ? error.statusCode : typeof error === 'object' && error !== null ? ((error as { statusCode?: number }).statusCode ?? undefined) : undefined;
const isStatus = (error: unknown, ...codes: number[]) => codes.includes(statusOf(error) ?? -1);

function fail(error: unknown, what: string): never {
  rethrowIfSyncError(error);
  const status = statusOf(error);
  if (status === 409 || status === 412) throw stateConflict(`${what}: the record changed or already exists`, error);
  if (status === 400 || status === 413) throw invalidInput(`${what}: Table Storage refused the record (${(error as Error).message.split('\n')[0]})`);
  throw stateUnavailable(`${what}: Table Storage is unavailable`, error);
}

/** Contention that outlasted the retries is transient: the caller's retry (a redelivery) will get through. */
const stillContended = (what: string, error: unknown) => stateUnavailable(`${what}: kept colliding with concurrent writers; retry later`, error);

interface LedgerRow {
  entry: LedgerEntry;
  etag: string;
  tombstone: boolean;
}

interface LedgerTx {
  entries: LedgerEntry[];
  actions: TransactionAction[];
}

export class TableStateStore implements StateStore {
  private readonly tables: Record<TableName, TableClient>;
  private readonly lookup: 'point' | 'filter';
  private readonly concurrency: number;
  private readonly counterDeadlineMs: number;
  /** runId → where its row lives; immutable once written, so caching is safe. */
  private readonly runLocations = new Map<string, { pk: string; rk: string }>();

  constructor(options: TableStateStoreOptions) {
    const prefix = options.tablePrefix ?? 'sync';
    if (!/^[A-Za-z][A-Za-z0-9]{0,50}$/.test(prefix)) throw invalidInput(`table prefix '${prefix}' must be letters and digits, starting with a letter`);
    this.lookup = options.lookup ?? 'point';
    this.concurrency = options.concurrency ?? 32;
    this.counterDeadlineMs = options.counterDeadlineMs ?? COUNTER_DEADLINE_MS;
    const make = (name: string): TableClient => {
      if ('connectionString' in options) {
        // Azurite speaks plain HTTP; the SDK refuses that unless told it is intended.
        const insecure = /(^|;)\s*(DefaultEndpointsProtocol=http|TableEndpoint=http:|UseDevelopmentStorage=true)/i.test(options.connectionString);
        return TableClient.fromConnectionString(options.connectionString, name, { allowInsecureConnection: insecure });
      }
      return new TableClient(options.accountUrl, name, options.credential);
    };
    this.tables = Object.fromEntries(TABLES.map((t) => [t, make(`${prefix}${t}`)])) as Record<TableName, TableClient>;
  }

  async init(): Promise<void> {
    try {
      await Promise.all(TABLES.map((t) => this.tables[t].createTable()));
    } catch (error) {
      fail(error, 'creating state tables');
    }
  }

  async ping(): Promise<void> {
    try {
      await this.tables.Config.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${'ping'}` } }).byPage({ maxPageSize: 1 }).next();
    } catch (error) {
      fail(error, 'ping');
    }
  }

  async close(): Promise<void> {
    // HTTP clients hold no connections worth closing.
  }

  /** Test/maintenance helper: removes every table of this prefix. */
  async dropAll(): Promise<void> {
    await Promise.all(TABLES.map((t) => this.tables[t].deleteTable().catch((e: unknown) => (isStatus(e, 404) ? undefined : Promise.reject(e)))));
  }

  // ---------------------------------------------------------------- generic row access

  private async get(table: TableName, pk: string, rk: string): Promise<Row | null> {
    try {
      return await this.tables[table].getEntity<Props>(pk, rk);
    } catch (error) {
      if (isStatus(error, 404)) return null;
      fail(error, `reading ${table}`);
    }
  }

  /** Fetches many rows of one partition (strategy: see `lookup` in the options). */
  private async getMany(table: TableName, pk: string, rks: string[]): Promise<Map<string, Row>> {
    const out = new Map<string, Row>();
    const unique = [...new Set(rks)];
    if (unique.length === 0) return out;
    if (this.lookup === 'point') {
      const rows = await mapLimit(unique, this.concurrency, (rk) => this.get(table, pk, rk));
      for (const row of rows) if (row) out.set(row.rowKey ?? '', row);
      return out;
    }
    await mapLimit(chunk(unique, FILTER_ROWKEYS), Math.max(1, Math.floor(this.concurrency / 4)), async (keys) => {
      const filter = `${odata`PartitionKey eq ${pk}`} and (${keys.map((k) => odata`RowKey eq ${k}`).join(' or ')})`;
      for (const row of await this.query(table, filter)) out.set(row.rowKey ?? '', row);
    });
    return out;
  }

  private async query(table: TableName, filter: string, limit = Infinity, pageSize = 1000): Promise<Row[]> {
    const out: Row[] = [];
    try {
      const pages = this.tables[table].listEntities<Props>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(pageSize, limit, 1000) });
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

  private async remove(table: TableName, pk: string, rk: string, etag?: string): Promise<boolean> {
    try {
      await this.tables[table].deleteEntity(pk, rk, etag ? { etag } : undefined);
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return false;
      fail(error, `deleting from ${table}`);
    }
  }

  /** Newest-first keyset paging over row keys (in [ge, lt)) that embed an inverted time. */
  private async page<T>(
    table: TableName,
    pk: string,
    range: { ge: string; lt: string },
    opts: { limit?: number; next?: string },
    map: (row: Row) => T,
  ): Promise<Page<T>> {
    const limit = pageLimit(opts.limit);
    const from = decodePageToken(opts.next, (v): v is string => typeof v === 'string' && v >= range.ge && v < range.lt);
    const lower = from === undefined ? odata`RowKey ge ${range.ge}` : odata`RowKey gt ${from}`;
    const filter = `${odata`PartitionKey eq ${pk}`} and ${lower} and ${odata`RowKey lt ${range.lt}`}`;
    const rows = await this.query(table, filter, limit + 1, limit + 1);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return rows.length > limit && last ? { items: items.map(map), next: encodePageToken(last.rowKey) } : { items: items.map(map) };
  }

  // ---------------------------------------------------------------- configuration

  private async putConfig<T extends { id: string; etag?: string; createdAt?: string; updatedAt?: string }>(
    kind: string,
    id: string,
    record: T,
    opts: { ifMatch?: string; mustNotExist?: boolean } = {},
  ): Promise<T> {
    const rk = encodeKey(id);
    const what = `${kind} '${id}'`;
    const doc = withoutVersion(record);
    const entity = (createdAt: string, updatedAt: string): TableEntity<Props> => {
      const e: Props = { partitionKey: kind, rowKey: rk, createdAt, updatedAt };
      putJson(e, 'doc', doc);
      checkEntitySize(e, what);
      return e as TableEntity<Props>;
    };
    const now = new Date().toISOString();
    const done = (etag: string | undefined, createdAt: string): T => ({ ...record, etag, createdAt, updatedAt: now });

    if (opts.mustNotExist) {
      try {
        const res = await this.tables.Config.createEntity(entity(now, now));
        return done(res.etag, now);
      } catch (error) {
        if (isStatus(error, 409)) throw stateConflict(`${what} already exists`, error);
        fail(error, `saving ${what}`);
      }
    }
    for (let attempt = 0; ; attempt++) {
      const existing = await this.get('Config', kind, rk);
      // A stale ifMatch is judged by the service (412): ETag spellings may differ between responses.
      if (opts.ifMatch !== undefined && !existing) throw notFound(MODULE, kind, id);
      try {
        if (!existing) {
          const res = await this.tables.Config.createEntity(entity(now, now));
          return done(res.etag, now);
        }
        const createdAt = str(existing, 'createdAt') ?? now;
        const res = await this.tables.Config.updateEntity(entity(createdAt, now), 'Replace', { etag: opts.ifMatch ?? existing.etag });
        return done(res.etag, createdAt);
      } catch (error) {
        if (opts.ifMatch !== undefined && isStatus(error, 412)) throw stateConflict(`${what} was changed by someone else; reload it and retry`, error);
        if (opts.ifMatch !== undefined && isStatus(error, 404)) throw notFound(MODULE, kind, id);
        if (isStatus(error, 404, 409, 412) && attempt < CONTENTION_ATTEMPTS) {
          await backoff(attempt);
          continue;
        }
        if (isStatus(error, 404, 409, 412)) throw stillContended(`saving ${what}`, error);
        fail(error, `saving ${what}`);
      }
    }
  }

  private fromConfig<T>(row: Row): T {
    return { ...(getJson(row, 'doc') as T), etag: row.etag, createdAt: str(row, 'createdAt'), updatedAt: str(row, 'updatedAt') };
  }

  private async getConfig<T>(kind: string, id: string): Promise<T | null> {
    const row = await this.get('Config', kind, encodeKey(id));
    return row ? this.fromConfig<T>(row) : null;
  }

  private async listConfig<T>(kind: string): Promise<T[]> {
    return (await this.query('Config', odata`PartitionKey eq ${kind}`)).map((row) => this.fromConfig<T>(row));
  }

  putSource(source: StoredSource, opts?: { ifMatch?: string; mustNotExist?: boolean }) {
    return this.putConfig('source', source.id, source, opts);
  }
  getSource(id: string) {
    return this.getConfig<StoredSource>('source', id);
  }
  listSources() {
    return this.listConfig<StoredSource>('source');
  }
  deleteSource(id: string) {
    return this.remove('Config', 'source', encodeKey(id));
  }

  putSharePoint(conn: StoredSharePoint, opts?: { ifMatch?: string; mustNotExist?: boolean }) {
    return this.putConfig('sharepoint', conn.id, conn, opts);
  }
  getSharePoint(id: string) {
    return this.getConfig<StoredSharePoint>('sharepoint', id);
  }
  listSharePoint() {
    return this.listConfig<StoredSharePoint>('sharepoint');
  }
  deleteSharePoint(id: string) {
    return this.remove('Config', 'sharepoint', encodeKey(id));
  }

  async putDefinition(def: StoredDefinition, opts?: { ifMatch?: string; mustNotExist?: boolean }): Promise<StoredDefinition> {
    const saved = await this.putConfig('definition', def.definition.id, { ...def, id: def.definition.id }, opts);
    const { id: _id, ...rest } = saved;
    return rest;
  }
  async getDefinition(id: string): Promise<StoredDefinition | null> {
    const found = await this.getConfig<StoredDefinition & { id?: string }>('definition', id);
    if (!found) return null;
    const { id: _id, ...rest } = found;
    return rest;
  }
  async listDefinitions(): Promise<StoredDefinition[]> {
    return (await this.listConfig<StoredDefinition & { id?: string }>('definition')).map(({ id: _id, ...rest }) => rest);
  }
  deleteDefinition(id: string) {
    return this.remove('Config', 'definition', encodeKey(id));
  }

  // ---------------------------------------------------------------- ledger

  private toLedgerRow(definitionId: string, row: Row): LedgerRow {
    const movedFrom = getJson(row, 'movedFrom') as LedgerEntry['movedFrom'];
    const entry: LedgerEntry = {
      definitionId,
      identityHash: str(row, 'identityHash') ?? decodeKey((row.rowKey ?? '').slice(FWD.length)),
      listId: str(row, 'listId') ?? '',
      itemId: str(row, 'itemId') ?? null,
      contentHash: str(row, 'contentHash') ?? '',
      state: (str(row, 'state') ?? 'pending') as LedgerState,
      movedFrom: movedFrom ?? null,
      createdAt: str(row, 'createdAt'),
      updatedAt: str(row, 'updatedAt'),
      etag: row.etag,
    };
    return { entry, etag: row.etag, tombstone: row.tombstone === true };
  }

  private async readLedgerRows(definitionId: string, hashes: string[]): Promise<Map<string, LedgerRow>> {
    const rows = await this.getMany('Ledger', encodeKey(definitionId), hashes.map(fwdKey));
    const out = new Map<string, LedgerRow>();
    for (const row of rows.values()) {
      const parsed = this.toLedgerRow(definitionId, row);
      out.set(parsed.entry.identityHash, parsed);
    }
    return out;
  }

  async getLedger(definitionId: string, identityHashes: string[]): Promise<Map<string, LedgerEntry>> {
    const rows = await this.readLedgerRows(definitionId, identityHashes);
    const out = new Map<string, LedgerEntry>();
    for (const [hash, row] of rows) if (!row.tombstone) out.set(hash, row.entry);
    return out;
  }

  async getLedgerByItem(definitionId: string, listId: string, itemId: string): Promise<LedgerEntry | null> {
    const pk = encodeKey(definitionId);
    const reverse = await this.get('Ledger', pk, revKey(listId, itemId));
    const hash = reverse ? str(reverse, 'identityHash') : undefined;
    if (hash === undefined) return null;
    const forward = await this.get('Ledger', pk, fwdKey(hash));
    if (!forward) return null;
    const { entry, tombstone } = this.toLedgerRow(definitionId, forward);
    // The pair is written atomically, so a mismatch means a concurrent move is in flight: the forward row wins.
    return !tombstone && entry.listId === listId && entry.itemId === itemId ? entry : null;
  }

  async putLedger(entries: LedgerEntry[]): Promise<void> {
    const batch = normaliseLedgerBatch(entries);
    for (const [definitionId, group] of groupBy(batch, (e) => e.definitionId)) {
      let pending = group;
      // The first attempt trusts the invariant (reverse rows exist exactly where forward rows
      // point) and reads only forward rows; after a collision it re-reads the reverse rows too.
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > CONTENTION_ATTEMPTS) throw stateUnavailable(`ledger writes for definition '${definitionId}' kept colliding with other writers; retry later`);
        if (attempt > 0) await backoff(attempt);
        const txs = await this.planLedger(definitionId, pending, attempt > 0);
        pending = await this.submitAll(txs, 'writing the ledger');
      }
    }
  }

  private async planLedger(definitionId: string, entries: LedgerEntry[], careful: boolean): Promise<LedgerTx[]> {
    const pk = encodeKey(definitionId);
    const now = new Date().toISOString();
    const current = await this.readLedgerRows(definitionId, entries.map((e) => e.identityHash));
    const oldKey = (e: LedgerEntry) => {
      const row = current.get(e.identityHash);
      return row && !row.tombstone && row.entry.itemId !== null ? revKey(row.entry.listId, row.entry.itemId) : null;
    };
    const newKey = (e: LedgerEntry) => (e.itemId === null ? null : revKey(e.listId, e.itemId));

    const releasing = new Map<string, string>();
    const claiming = new Map<string, string>();
    for (const e of entries) {
      const from = oldKey(e);
      const to = newKey(e);
      if (from === to) continue;
      if (from) releasing.set(from, e.identityHash);
      if (to) claiming.set(to, e.identityHash);
    }
    const reverse = careful ? await this.getMany('Ledger', pk, [...releasing.keys(), ...claiming.keys()]) : new Map<string, Row>();
    for (const [rk, hash] of claiming) {
      const owner = careful ? str(reverse.get(rk) ?? {}, 'identityHash') : undefined;
      if (owner !== undefined && owner !== hash && releasing.get(rk) !== owner) {
        const e = entries.find((x) => x.identityHash === hash);
        throw stateConflict(`item ${e?.itemId} of list ${e?.listId} already belongs to identity ${owner} in definition '${definitionId}'`);
      }
    }

    // Entries that hand a reverse row to each other (a swap, a chain of moves) must commit together.
    const parent = new Map<string, string>(entries.map((e) => [e.identityHash, e.identityHash]));
    const find = (h: string): string => {
      let root = h;
      while (parent.get(root) !== root) root = parent.get(root) ?? root;
      parent.set(h, root);
      return root;
    };
    for (const [rk, hash] of claiming) {
      const from = releasing.get(rk);
      if (from !== undefined) parent.set(find(hash), find(from));
    }

    const actionsOf = new Map<string, TransactionAction[]>();
    const add = (hash: string, action: TransactionAction) => {
      const root = find(hash);
      const list = actionsOf.get(root);
      if (list) list.push(action);
      else actionsOf.set(root, [action]);
    };
    for (const e of entries) {
      const row = current.get(e.identityHash);
      const entity: Props = {
        partitionKey: pk,
        rowKey: fwdKey(e.identityHash),
        identityHash: e.identityHash,
        listId: e.listId,
        contentHash: e.contentHash,
        state: e.state,
        createdAt: row && !row.tombstone ? (row.entry.createdAt ?? now) : now,
        updatedAt: now,
      };
      if (e.itemId !== null) entity.itemId = e.itemId;
      if (e.movedFrom) putJson(entity, 'movedFrom', e.movedFrom);
      add(e.identityHash, row ? ['update', entity as TableEntity, 'Replace', { etag: row.etag }] : ['create', entity as TableEntity]);
    }
    for (const [rk, hash] of claiming) {
      const entity = { partitionKey: pk, rowKey: rk, identityHash: hash };
      const existing = reverse.get(rk);
      // Careful mode knows whether the row exists; the first attempt trusts the releaser's forward row.
      const exists = careful ? existing !== undefined : releasing.has(rk);
      add(hash, exists ? ['update', entity, 'Replace', { etag: existing?.etag ?? '*' }] : ['create', entity]);
    }
    for (const [rk, hash] of releasing) {
      if (claiming.has(rk)) continue;
      // Unconditional delete is safe: a reverse row only ever changes together with its owner's
      // forward row, whose ETag this same transaction checks.
      if (!careful || str(reverse.get(rk) ?? {}, 'identityHash') === hash) add(hash, ['delete', { partitionKey: pk, rowKey: rk }]);
    }

    const groups = groupBy(entries, (e) => find(e.identityHash));
    const txs: LedgerTx[] = [];
    let tx: LedgerTx = { entries: [], actions: [] };
    for (const [root, members] of groups) {
      const actions = actionsOf.get(root) ?? [];
      if (actions.length > MAX_TX_OPS) throw invalidInput(`a ledger batch moves ${members.length} items in one chain; split it`);
      if (tx.actions.length + actions.length > MAX_TX_OPS) {
        txs.push(tx);
        tx = { entries: [], actions: [] };
      }
      tx.entries.push(...members);
      tx.actions.push(...actions);
    }
    if (tx.actions.length > 0) txs.push(tx);
    return txs;
  }

  /** Submits transactions in parallel; returns the entries of those that lost a race (to re-plan). */
  private async submitAll(txs: LedgerTx[], what: string): Promise<LedgerEntry[]> {
    const lost = await mapLimit(txs, Math.max(1, Math.floor(this.concurrency / 4)), async (tx) => {
      try {
        await this.tables.Ledger.submitTransaction(tx.actions);
        return [];
      } catch (error) {
        if (isStatus(error, 404, 409, 412)) return tx.entries;
        fail(error, what);
      }
    });
    return lost.flat();
  }

  async deleteLedger(definitionId: string, identityHashes: string[]): Promise<void> {
    const pk = encodeKey(definitionId);
    let pending = [...new Set(identityHashes)];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > CONTENTION_ATTEMPTS) throw stateUnavailable(`ledger deletes for definition '${definitionId}' kept colliding with other writers; retry later`);
      if (attempt > 0) await backoff(attempt);
      const rows = await this.readLedgerRows(definitionId, pending);
      const retry: string[] = [];
      const withItem: LedgerRow[] = [];
      // Entries without an item have no reverse row: one conditional delete suffices.
      await mapLimit([...rows.values()], this.concurrency, async (row) => {
        if (row.tombstone || row.entry.itemId === null) {
          try {
            await this.tables.Ledger.deleteEntity(pk, fwdKey(row.entry.identityHash), { etag: row.etag });
          } catch (error) {
            if (isStatus(error, 412)) retry.push(row.entry.identityHash);
            else if (!isStatus(error, 404)) fail(error, 'deleting ledger entries');
          }
        } else withItem.push(row);
      });
      // After a collision, check the reverse rows too: one already gone must not fail the delete again.
      const revOf = (row: LedgerRow) => revKey(row.entry.listId, row.entry.itemId ?? '');
      const reverse = attempt > 0 ? await this.getMany('Ledger', pk, withItem.map(revOf)) : undefined;
      // A transaction cannot delete with If-Match, so the forward row is first turned into a
      // tombstone under its ETag (together with the reverse row's delete), then deleted under
      // the tombstone's ETag. A crash between the two leaves a tombstone that readers skip.
      await mapLimit(chunk(withItem, MAX_TX_OPS / 2), Math.max(1, Math.floor(this.concurrency / 4)), async (rowsOfTx) => {
        const actions: TransactionAction[] = [];
        const tombstoneAt: number[] = [];
        for (const row of rowsOfTx) {
          tombstoneAt.push(actions.length);
          actions.push(['update', { partitionKey: pk, rowKey: fwdKey(row.entry.identityHash), identityHash: row.entry.identityHash, tombstone: true }, 'Replace', { etag: row.etag }]);
          const owner = reverse ? str(reverse.get(revOf(row)) ?? {}, 'identityHash') : row.entry.identityHash;
          if (owner === row.entry.identityHash) actions.push(['delete', { partitionKey: pk, rowKey: revOf(row) }]);
        }
        let tags: Array<string | undefined>;
        try {
          const res = await this.tables.Ledger.submitTransaction(actions);
          tags = tombstoneAt.map((at) => res.subResponses[at]?.etag);
        } catch (error) {
          if (isStatus(error, 404, 409, 412)) return void retry.push(...rowsOfTx.map((r) => r.entry.identityHash));
          fail(error, 'deleting ledger entries');
        }
        await mapLimit(rowsOfTx, this.concurrency, async (row, i) => {
          const tag = tags[i];
          // Without the tombstone's ETag, leave it for the next pass (re-read, conditional delete).
          if (tag === undefined) return void retry.push(row.entry.identityHash);
          try {
            await this.tables.Ledger.deleteEntity(pk, fwdKey(row.entry.identityHash), { etag: tag });
          } catch (error) {
            if (!isStatus(error, 404, 412)) fail(error, 'deleting ledger entries');
          }
        });
      });
      pending = retry;
    }
  }

  async *scanLedger(definitionId: string, pageSize = 1000): AsyncIterable<LedgerEntry[]> {
    const pk = encodeKey(definitionId);
    const filter = `${odata`PartitionKey eq ${pk}`} and ${odata`RowKey ge ${FWD}`} and ${odata`RowKey lt ${after(FWD)}`}`;
    const pages = this.tables.Ledger.listEntities<Props>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(Math.max(1, pageSize), 1000) });
    while (true) {
      let result: IteratorResult<Row[]>;
      try {
        result = await pages.next();
      } catch (error) {
        fail(error, 'scanning the ledger');
      }
      if (result.done) return;
      const entries = result.value
        .map((row) => this.toLedgerRow(definitionId, row))
        .filter((r) => !r.tombstone)
        .map((r) => r.entry);
      if (entries.length > 0) yield entries;
    }
  }

  // ---------------------------------------------------------------- cursors

  async getCursor(definitionId: string, sourceId: string): Promise<CursorRecord | null> {
    const row = await this.get('Cursors', encodeKey(definitionId), encodeKey(sourceId));
    if (!row) return null;
    return { definitionId, sourceId, position: getText(row, 'position') ?? null, mappingVersion: num(row, 'mappingVersion'), updatedAt: str(row, 'updatedAt') };
  }

  async putCursor(cursor: CursorRecord): Promise<void> {
    const entity: Props = {
      partitionKey: encodeKey(cursor.definitionId),
      rowKey: encodeKey(cursor.sourceId),
      mappingVersion: cursor.mappingVersion,
      updatedAt: new Date().toISOString(),
    };
    putText(entity, 'position', cursor.position);
    checkEntitySize(entity, 'cursor position');
    try {
      await this.tables.Cursors.upsertEntity(entity as TableEntity, 'Replace');
    } catch (error) {
      fail(error, 'saving the cursor');
    }
  }

  // ---------------------------------------------------------------- runs

  private runEntity(run: RunRecord, pk: string, rk: string): TableEntity<Props> {
    const e: Props = {
      partitionKey: pk,
      rowKey: rk,
      runId: run.runId,
      definitionId: run.definitionId,
      mode: run.mode,
      trigger: run.trigger,
      status: run.status,
      startedAt: run.startedAt,
      batchesExpected: run.batchesExpected,
      batchesSettled: run.batchesSettled,
    };
    if (run.sourceId !== undefined) e.sourceId = run.sourceId;
    if (run.finishedAt) e.finishedAt = run.finishedAt;
    for (const k of COUNT_KEYS) e[`n_${k}`] = run.counts[k];
    putText(e, 'highWater', run.highWater);
    putText(e, 'error', storedErrorText(run.error));
    putJson(e, 'plan', run.plan);
    checkEntitySize(e, `run '${run.runId}'`);
    return e as TableEntity<Props>;
  }

  private toRun(row: Row): RunRecord {
    const run: RunRecord = {
      runId: str(row, 'runId') ?? '',
      definitionId: str(row, 'definitionId') ?? '',
      mode: str(row, 'mode') as RunRecord['mode'],
      trigger: str(row, 'trigger') as RunRecord['trigger'],
      status: str(row, 'status') as RunRecord['status'],
      startedAt: str(row, 'startedAt') ?? '',
      finishedAt: str(row, 'finishedAt') ?? null,
      highWater: getText(row, 'highWater') ?? null,
      counts: Object.fromEntries(COUNT_KEYS.map((k) => [k, num(row, `n_${k}`)])) as unknown as RunRecord['counts'],
      batchesExpected: num(row, 'batchesExpected'),
      batchesSettled: num(row, 'batchesSettled'),
      error: getText(row, 'error') ?? null,
    };
    const sourceId = str(row, 'sourceId');
    if (sourceId !== undefined) run.sourceId = sourceId;
    const plan = getJson(row, 'plan');
    if (plan !== undefined) run.plan = plan;
    return run;
  }

  private remember(runId: string, location: { pk: string; rk: string }) {
    if (this.runLocations.size >= RUN_LOCATION_CACHE) {
      const oldest = this.runLocations.keys().next();
      if (!oldest.done) this.runLocations.delete(oldest.value);
    }
    this.runLocations.set(runId, location);
  }

  private async locateRun(runId: string): Promise<{ pk: string; rk: string } | null> {
    const cached = this.runLocations.get(runId);
    if (cached) return cached;
    const row = await this.get('RunIds', encodeKey(runId), '');
    const pk = row ? str(row, 'pk') : undefined;
    const rk = row ? str(row, 'rk') : undefined;
    if (pk === undefined || rk === undefined) return null;
    this.remember(runId, { pk, rk });
    return { pk, rk };
  }

  async createRun(run: RunRecord): Promise<void> {
    const pk = encodeKey(run.definitionId);
    const rk = `${invertedTime(isoOrThrow(run.startedAt, 'startedAt').getTime())}_${encodeKey(run.runId)}`;
    const entity = this.runEntity(run, pk, rk);
    try {
      await this.tables.RunIds.createEntity({ partitionKey: encodeKey(run.runId), rowKey: '', pk, rk });
    } catch (error) {
      if (!isStatus(error, 409)) fail(error, `creating run '${run.runId}'`);
      // A create that crashed after writing the id row may be finished by its retry.
      const location = await this.locateRun(run.runId);
      if (!location || location.pk !== pk || location.rk !== rk) throw stateConflict(`run '${run.runId}' already exists`, error);
    }
    this.remember(run.runId, { pk, rk });
    try {
      await this.tables.Runs.createEntity(entity);
    } catch (error) {
      if (isStatus(error, 409)) throw stateConflict(`run '${run.runId}' already exists`, error);
      fail(error, `creating run '${run.runId}'`);
    }
  }

  async getRun(runId: string): Promise<RunRecord | null> {
    const location = await this.locateRun(runId);
    if (!location) return null;
    const row = await this.get('Runs', location.pk, location.rk);
    return row ? this.toRun(row) : null;
  }

  /** Read-modify-write under the row's ETag, retried until it wins: concurrent changes all land. */
  private async mutateRun(runId: string, change: (run: RunRecord) => RunRecord): Promise<RunRecord> {
    const location = await this.locateRun(runId);
    if (!location) throw notFound(MODULE, 'run', runId);
    const deadline = Date.now() + this.counterDeadlineMs;
    for (let attempt = 0; ; attempt++) {
      const row = await this.get('Runs', location.pk, location.rk);
      if (!row) throw notFound(MODULE, 'run', runId);
      const next = change(this.toRun(row));
      try {
        await this.tables.Runs.updateEntity(this.runEntity(next, location.pk, location.rk), 'Replace', { etag: row.etag });
        return next;
      } catch (error) {
        if (!isStatus(error, 412)) fail(error, `updating run '${runId}'`);
        if (Date.now() > deadline) throw stillContended(`updating run '${runId}'`, error);
        await backoff(attempt, 2, 50);
      }
    }
  }

  updateRun(runId: string, patch: Partial<Omit<RunRecord, 'runId' | 'definitionId'>>): Promise<RunRecord> {
    return this.mutateRun(runId, (run) => ({ ...run, ...patch, runId: run.runId, definitionId: run.definitionId }));
  }

  async incrementRun(runId: string, deltas: Partial<Record<ProgressCounter, number>>): Promise<RunRecord> {
    const checked = checkDeltas(deltas);
    return this.mutateRun(runId, (run) => applyDeltas(run, checked));
  }

  async incrementRunOnce(runId: string, key: string, deltas: Partial<Record<ProgressCounter, number>>): Promise<{ run: RunRecord; applied: boolean }> {
    const checked = checkDeltas(deltas);
    const location = await this.locateRun(runId);
    if (!location) throw notFound(MODULE, 'run', runId);
    const mark = { partitionKey: location.pk, rowKey: runMarkKey(runId, key), runId, key };
    const deadline = Date.now() + this.counterDeadlineMs;
    for (let attempt = 0; ; attempt++) {
      const row = await this.get('Runs', location.pk, location.rk);
      if (!row) throw notFound(MODULE, 'run', runId);
      const next = applyDeltas(this.toRun(row), checked);
      try {
        // The marker lives in the run's partition, so marker and increment commit as one.
        await this.tables.Runs.submitTransaction([
          ['create', mark],
          ['update', this.runEntity(next, location.pk, location.rk), 'Replace', { etag: row.etag }],
        ]);
        return { run: next, applied: true };
      } catch (error) {
        if (isStatus(error, 409)) {
          const now = await this.getRun(runId);
          if (!now) throw notFound(MODULE, 'run', runId);
          return { run: now, applied: false };
        }
        if (!isStatus(error, 412)) fail(error, `updating run '${runId}'`);
        if (Date.now() > deadline) throw stillContended(`updating run '${runId}'`, error);
        await backoff(attempt, 2, 50);
      }
    }
  }

  listRuns(definitionId: string, opts: { limit?: number; next?: string } = {}): Promise<Page<RunRecord>> {
    return this.page('Runs', encodeKey(definitionId), RUN_ROWS, opts, (row) => this.toRun(row));
  }

  // ---------------------------------------------------------------- failures

  async putFailure(failure: FailureRecord): Promise<void> {
    const entity: Props = {
      partitionKey: encodeKey(failure.definitionId),
      rowKey: encodeKey(failure.identityHash),
      identityHash: failure.identityHash,
      attempts: failure.attempts,
      quarantined: failure.quarantined,
      firstFailedAt: failure.firstFailedAt,
      lastFailedAt: failure.lastFailedAt,
    };
    if (failure.lastRunId !== undefined) entity.lastRunId = failure.lastRunId;
    putJson(entity, 'key', failure.key);
    putText(entity, 'lastError', storedErrorText(failure.lastError));
    checkEntitySize(entity, `failure of ${failure.identityHash}`);
    try {
      await this.tables.Failures.upsertEntity(entity as TableEntity, 'Replace');
    } catch (error) {
      fail(error, 'saving a row failure');
    }
  }

  async getFailures(definitionId: string, opts: { includeQuarantined?: boolean } = {}): Promise<FailureRecord[]> {
    let filter = odata`PartitionKey eq ${encodeKey(definitionId)}`;
    if (!opts.includeQuarantined) filter += ` and ${odata`quarantined eq ${false}`}`;
    return (await this.query('Failures', filter)).map((row) => this.toFailure(definitionId, row));
  }

  async pageFailures(definitionId: string, opts: FailurePageOptions = {}): Promise<Page<FailureRecord>> {
    const limit = pageLimit(opts.limit);
    let filter = `${odata`PartitionKey eq ${encodeKey(definitionId)}`} and ${odata`RowKey gt ${keyAfterToken(opts.next)}`}`;
    if (opts.quarantined !== undefined) filter += ` and ${odata`quarantined eq ${opts.quarantined}`}`;
    const rows = await this.query('Failures', filter, limit + 1, limit + 1);
    return pageAfterKey(rows, limit, (row) => this.toFailure(definitionId, row), (row) => row.rowKey ?? '');
  }

  async getFailuresFor(definitionId: string, identityHashes: string[]): Promise<Map<string, FailureRecord>> {
    const rows = await this.getMany('Failures', encodeKey(definitionId), identityHashes.map(encodeKey));
    return new Map([...rows.values()].map((row) => this.toFailure(definitionId, row)).map((f) => [f.identityHash, f]));
  }

  private toFailure(definitionId: string, row: Row): FailureRecord {
    const failure: FailureRecord = {
      definitionId,
      identityHash: str(row, 'identityHash') ?? decodeKey(row.rowKey ?? ''),
      key: (getJson(row, 'key') as unknown[] | undefined) ?? [],
      attempts: num(row, 'attempts'),
      lastError: getText(row, 'lastError') ?? '',
      quarantined: row.quarantined === true,
      firstFailedAt: str(row, 'firstFailedAt') ?? '',
      lastFailedAt: str(row, 'lastFailedAt') ?? '',
    };
    const lastRunId = str(row, 'lastRunId');
    if (lastRunId !== undefined) failure.lastRunId = lastRunId;
    return failure;
  }

  async deleteFailures(definitionId: string, identityHashes: string[]): Promise<void> {
    const pk = encodeKey(definitionId);
    await mapLimit([...new Set(identityHashes)], this.concurrency, (hash) => this.remove('Failures', pk, encodeKey(hash)));
  }

  // ---------------------------------------------------------------- moves

  async addMove(move: MoveRecord): Promise<void> {
    const pk = encodeKey(move.definitionId);
    const id = encodeKey(move.moveId);
    const listing: Props = {
      partitionKey: pk,
      rowKey: `t_${invertedTime(isoOrThrow(move.at, 'at').getTime())}_${id}`,
      moveId: move.moveId,
      identityHash: move.identityHash,
      fromListId: move.from.listId,
      fromItemId: move.from.itemId,
      toListId: move.to.listId,
      toItemId: move.to.itemId,
      at: move.at,
    };
    if (move.runId !== undefined) listing.runId = move.runId;
    try {
      // The guard row makes a redelivered move record itself once.
      await this.tables.Moves.submitTransaction([
        ['create', { partitionKey: pk, rowKey: `g_${id}` }],
        ['create', listing as TableEntity],
      ]);
    } catch (error) {
      if (isStatus(error, 409)) return;
      fail(error, 'recording a move');
    }
  }

  listMoves(definitionId: string, opts: { limit?: number; next?: string } = {}): Promise<Page<MoveRecord>> {
    return this.page('Moves', encodeKey(definitionId), { ge: 't_', lt: after('t_') }, opts, (row) => {
      const move: MoveRecord = {
        definitionId,
        moveId: str(row, 'moveId') ?? '',
        identityHash: str(row, 'identityHash') ?? '',
        from: { listId: str(row, 'fromListId') ?? '', itemId: str(row, 'fromItemId') ?? '' },
        to: { listId: str(row, 'toListId') ?? '', itemId: str(row, 'toItemId') ?? '' },
        at: str(row, 'at') ?? '',
      };
      const runId = str(row, 'runId');
      if (runId !== undefined) move.runId = runId;
      return move;
    });
  }

  // ---------------------------------------------------------------- leases

  /**
   * Expiry compares against this process's clock: Table Storage offers no server time to
   * compare with, so TTLs should be generous relative to clock skew between instances.
   */
  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const pk = encodeKey(name);
    for (let attempt = 0; attempt < CONTENTION_ATTEMPTS; attempt++) {
      const entity = { partitionKey: pk, rowKey: '', holder, expiresAt: new Date(Date.now() + ttlMs).toISOString() };
      try {
        await this.tables.Leases.createEntity(entity);
        return true;
      } catch (error) {
        if (!isStatus(error, 409)) fail(error, `acquiring lease '${name}'`);
      }
      const row = await this.get('Leases', pk, '');
      if (!row) continue; // released in between: try to create again
      const live = Date.parse(str(row, 'expiresAt') ?? '') > Date.now();
      if (live && str(row, 'holder') !== holder) return false;
      try {
        await this.tables.Leases.updateEntity(entity, 'Replace', { etag: row.etag });
        return true;
      } catch (error) {
        if (!isStatus(error, 404, 412)) fail(error, `acquiring lease '${name}'`);
        // Someone else changed it first: re-read to see whether they now hold it.
      }
    }
    return false;
  }

  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const pk = encodeKey(name);
    for (let attempt = 0; attempt < CONTENTION_ATTEMPTS; attempt++) {
      const row = await this.get('Leases', pk, '');
      if (!row || str(row, 'holder') !== holder) return false;
      try {
        await this.tables.Leases.updateEntity({ partitionKey: pk, rowKey: '', holder, expiresAt: new Date(Date.now() + ttlMs).toISOString() }, 'Replace', {
          etag: row.etag,
        });
        return true;
      } catch (error) {
        if (isStatus(error, 404)) return false;
        if (!isStatus(error, 412)) fail(error, `renewing lease '${name}'`);
      }
    }
    return false;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    const pk = encodeKey(name);
    for (let attempt = 0; attempt < CONTENTION_ATTEMPTS; attempt++) {
      const row = await this.get('Leases', pk, '');
      if (!row || str(row, 'holder') !== holder) return;
      try {
        await this.tables.Leases.deleteEntity(pk, '', { etag: row.etag });
        return;
      } catch (error) {
        if (isStatus(error, 404)) return;
        // 412: changed meanwhile. A renewal by the holder itself (a late batch of the same run)
        // must not keep the lease alive, so read again and release if it is still ours.
        if (!isStatus(error, 412)) fail(error, `releasing lease '${name}'`);
      }
    }
    throw stateUnavailable(`lease '${name}' kept changing while being released; retry later`);
  }

  // ---------------------------------------------------------------- schedule

  async getLastSlot(definitionId: string): Promise<string | null> {
    const row = await this.get('Schedule', encodeKey(definitionId), '');
    return row ? (str(row, 'lastSlot') ?? null) : null;
  }

  async casLastSlot(definitionId: string, expected: string | null, slot: string): Promise<boolean> {
    const pk = encodeKey(definitionId);
    const entity = { partitionKey: pk, rowKey: '', lastSlot: slot, updatedAt: new Date().toISOString() };
    const row = await this.get('Schedule', pk, '');
    try {
      if (!row) {
        if (expected !== null) return false;
        await this.tables.Schedule.createEntity(entity);
        return true;
      }
      if ((str(row, 'lastSlot') ?? null) !== expected) return false;
      await this.tables.Schedule.updateEntity(entity, 'Replace', { etag: row.etag });
      return true;
    } catch (error) {
      if (isStatus(error, 404, 409, 412)) return false;
      fail(error, 'recording the schedule slot');
    }
  }

  // ---------------------------------------------------------------- drift reports

  async putDriftReport(report: DriftReportRecord): Promise<void> {
    const entity: Props = {
      partitionKey: encodeKey(report.definitionId),
      rowKey: encodeKey(report.reportId),
      createdAt: report.createdAt,
      status: report.status,
    };
    putJson(entity, 'report', report.report);
    checkEntitySize(entity, `drift report '${report.reportId}'`);
    try {
      await this.tables.Drift.upsertEntity(entity as TableEntity, 'Replace');
    } catch (error) {
      fail(error, 'saving the drift report');
    }
  }

  async getDriftReport(definitionId: string, reportId: string): Promise<DriftReportRecord | null> {
    const row = await this.get('Drift', encodeKey(definitionId), encodeKey(reportId));
    if (!row) return null;
    return {
      definitionId,
      reportId,
      createdAt: str(row, 'createdAt') ?? '',
      status: str(row, 'status') as DriftReportRecord['status'],
      report: getJson(row, 'report') ?? null,
    };
  }
}
