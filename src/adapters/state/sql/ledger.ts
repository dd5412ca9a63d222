import type { LedgerEntry, LedgerWrite } from '../../../core/ports/state';
import { fieldHashesOrNull, iso } from '../common';
import type { LedgerStorage } from '../ledger';
import { bind, type SqlDb, type SqlEngine } from './db';

/**
 * The ledger in SQL. The database enforces both uniqueness rules itself (primary key on
 * (definition, identity), unique (definition, list, item) for known items), so no interleaving
 * of writers can break them; a batch is one statement, atomic as a whole.
 */

const LEDGER_COLUMNS = 'definition_id, identity_hash, list_id, item_id, content_hash, state, moved_from, source_read_at, content_in_doubt, field_hashes, version, created_at, updated_at';

interface LedgerRow {
  definition_id: string;
  identity_hash: string;
  list_id: string;
  item_id: string | null;
  content_hash: string;
  state: LedgerEntry['state'];
  moved_from: unknown;
  source_read_at: string | null;
  content_in_doubt: boolean | number;
  /** `FieldHashes` as JSON (PostgreSQL jsonb: parsed by the driver), or null. */
  field_hashes: unknown;
  /** bigint: drivers hand it back as a string (or a number). */
  version: string | number;
  created_at: Date;
  updated_at: Date;
}

/**
 * A batch travels as one JSON parameter of rows `{d, h, l, i, c, s, m, r, q, f}` (plus `v`, the
 * expected version, for conditional writes), unpacked by the engine and written in one
 * statement (SQL Server: MERGE WITH (HOLDLOCK), without which two MERGEs can both take the
 * insert branch). Every write moves `version` on: it is the entry's etag.
 */
const WRITE_BATCH: Record<SqlEngine, (s: string) => string> = {
  postgres: (s) => `INSERT INTO ${s}.ledger AS t (definition_id, identity_hash, list_id, item_id, content_hash, state, moved_from, source_read_at, content_in_doubt, field_hashes)
       SELECT x.d, x.h, x.l, x.i, x.c, x.s, x.m::jsonb, x.r, x.q, x.f::jsonb FROM jsonb_to_recordset(@batch::jsonb) AS x(d text, h text, l text, i text, c text, s text, m text, r text, q boolean, f text)
       ON CONFLICT (definition_id, identity_hash) DO UPDATE SET
         list_id = excluded.list_id, item_id = excluded.item_id, content_hash = excluded.content_hash,
         state = excluded.state, moved_from = excluded.moved_from, source_read_at = excluded.source_read_at,
         content_in_doubt = excluded.content_in_doubt, field_hashes = excluded.field_hashes, version = t.version + 1, updated_at = now()`,
  sqlserver: (s) => `MERGE ${s}.ledger WITH (HOLDLOCK) AS t
       USING (SELECT d, h, l, i, c, s, m, r, q, f FROM OPENJSON(@batch) WITH (${SQLSERVER_ROW})) AS x
       ON t.definition_id = x.d AND t.identity_hash = x.h
       WHEN MATCHED THEN UPDATE SET list_id = x.l, item_id = x.i, content_hash = x.c, state = x.s, moved_from = x.m,
         source_read_at = x.r, content_in_doubt = x.q, field_hashes = x.f, version = t.version + 1, updated_at = SYSUTCDATETIME()
       WHEN NOT MATCHED THEN INSERT (definition_id, identity_hash, list_id, item_id, content_hash, state, moved_from, source_read_at, content_in_doubt, field_hashes)
         VALUES (x.d, x.h, x.l, x.i, x.c, x.s, x.m, x.r, x.q, x.f);`,
};

/** OPENJSON's column list for one batch row. */
const SQLSERVER_ROW = `d NVARCHAR(128) '$.d', h NVARCHAR(128) '$.h', l NVARCHAR(256) '$.l', i NVARCHAR(128) '$.i',
                c NVARCHAR(128) '$.c', s NVARCHAR(16) '$.s', m NVARCHAR(MAX) '$.m', r NVARCHAR(40) '$.r', q BIT '$.q', f NVARCHAR(MAX) '$.f', v BIGINT '$.v'`;

/**
 * Compare-and-set per row: an update only where the stored version is still the expected one,
 * an insert only where nothing is stored (expected version null). Answers the rows written with
 * their new version; a row that lost its race is simply not among them.
 */
const WRITE_IF_MATCH: Record<SqlEngine, (s: string) => string> = {
  postgres: (s) => `WITH x AS (
         SELECT * FROM jsonb_to_recordset(@batch::jsonb) AS x(d text, h text, l text, i text, c text, s text, m text, r text, q boolean, f text, v bigint)
       ), updated AS (
         UPDATE ${s}.ledger AS t SET list_id = x.l, item_id = x.i, content_hash = x.c, state = x.s, moved_from = x.m::jsonb,
           source_read_at = x.r, content_in_doubt = x.q, field_hashes = x.f::jsonb, version = t.version + 1, updated_at = now()
         FROM x WHERE x.v IS NOT NULL AND t.definition_id = x.d AND t.identity_hash = x.h AND t.version = x.v
         RETURNING t.identity_hash, t.version
       ), inserted AS (
         INSERT INTO ${s}.ledger (definition_id, identity_hash, list_id, item_id, content_hash, state, moved_from, source_read_at, content_in_doubt, field_hashes)
         SELECT x.d, x.h, x.l, x.i, x.c, x.s, x.m::jsonb, x.r, x.q, x.f::jsonb FROM x WHERE x.v IS NULL
         ON CONFLICT (definition_id, identity_hash) DO NOTHING
         RETURNING identity_hash, version
       )
       SELECT identity_hash, version FROM updated UNION ALL SELECT identity_hash, version FROM inserted`,
  sqlserver: (s) => `SET NOCOUNT ON;
       DECLARE @written TABLE (identity_hash NVARCHAR(128), version BIGINT);
       DECLARE @x TABLE (d NVARCHAR(128), h NVARCHAR(128), l NVARCHAR(256), i NVARCHAR(128), c NVARCHAR(128), s NVARCHAR(16), m NVARCHAR(MAX), r NVARCHAR(40), q BIT, f NVARCHAR(MAX), v BIGINT);
       INSERT INTO @x SELECT d, h, l, i, c, s, m, r, q, f, v FROM OPENJSON(@batch) WITH (${SQLSERVER_ROW});
       UPDATE t SET list_id = x.l, item_id = x.i, content_hash = x.c, state = x.s, moved_from = x.m,
           source_read_at = x.r, content_in_doubt = x.q, field_hashes = x.f, version = t.version + 1, updated_at = SYSUTCDATETIME()
         OUTPUT inserted.identity_hash, inserted.version INTO @written
         FROM ${s}.ledger AS t JOIN @x AS x ON t.definition_id = x.d AND t.identity_hash = x.h
         WHERE x.v IS NOT NULL AND t.version = x.v;
       INSERT INTO ${s}.ledger (definition_id, identity_hash, list_id, item_id, content_hash, state, moved_from, source_read_at, content_in_doubt, field_hashes)
         OUTPUT inserted.identity_hash, inserted.version INTO @written
         SELECT x.d, x.h, x.l, x.i, x.c, x.s, x.m, x.r, x.q, x.f FROM @x AS x
         WHERE x.v IS NULL AND NOT EXISTS (SELECT 1 FROM ${s}.ledger AS t WITH (UPDLOCK, HOLDLOCK) WHERE t.definition_id = x.d AND t.identity_hash = x.h);
       SELECT identity_hash, version FROM @written;`,
};

/** An etag this store never issued (another store's, or garbage) can match nothing. */
const VERSION_ETAG = /^[0-9]{1,15}$/;
/**
 * Refreshes the planner statistics of the ledger. A bulk load changes the ledger faster than
 * autovacuum (or SQL Server's auto-update threshold) follows, and stale statistics turned the
 * ledger's page query from 2 ms into 150 ms a page (issue 13).
 */
const REFRESH_STATISTICS: Record<SqlEngine, (s: string) => string> = {
  postgres: (s) => `ANALYZE ${s}.ledger`,
  sqlserver: (s) => `UPDATE STATISTICS ${s}.ledger`,
};

/** Ledger rows written or removed by this process between two statistics refreshes. */
export const DEFAULT_STATISTICS_REFRESH_ROWS = 10_000;

/** Sorted so that concurrent batches lock rows in the same order and cannot deadlock. */
const inLockOrder = (a: LedgerEntry, b: LedgerEntry) =>
  a.definitionId === b.definitionId ? (a.identityHash < b.identityHash ? -1 : 1) : a.definitionId < b.definitionId ? -1 : 1;

export class SqlLedgerStorage implements LedgerStorage {
  readonly maxScanPage = 10_000;

  private rowsSinceStatistics = 0;

  constructor(
    private readonly db: SqlDb,
    private readonly statisticsRefreshRows = DEFAULT_STATISTICS_REFRESH_ROWS,
  ) {}

  async read(definitionId: string, identityHashes: string[]): Promise<Map<string, LedgerEntry>> {
    const res = await this.db.query<LedgerRow>(
      'reading the ledger',
      `SELECT ${LEDGER_COLUMNS} FROM ${this.table} WHERE definition_id = @definitionId AND ${this.db.dialect.keyIn('identity_hash', '@hashes')}`,
      { definitionId: bind.key(definitionId), hashes: bind.keys(identityHashes) },
    );
    return new Map(res.rows.map((row) => [row.identity_hash, this.toEntry(row)]));
  }

  async readByItem(definitionId: string, listId: string, itemId: string): Promise<LedgerEntry | null> {
    const res = await this.db.query<LedgerRow>(
      'reading the ledger',
      `SELECT ${LEDGER_COLUMNS} FROM ${this.table} WHERE definition_id = @definitionId AND list_id = @listId AND item_id = @itemId`,
      { definitionId: bind.key(definitionId), listId: bind.key(listId), itemId: bind.key(itemId) },
    );
    const row = res.rows[0];
    return row ? this.toEntry(row) : null;
  }

  async readByItems(definitionId: string, listId: string, itemIds: string[]): Promise<Map<string, LedgerEntry>> {
    const res = await this.db.query<LedgerRow>(
      'reading the ledger',
      `SELECT ${LEDGER_COLUMNS} FROM ${this.table} WHERE definition_id = @definitionId AND list_id = @listId AND ${this.db.dialect.keyIn('item_id', '@items')}`,
      { definitionId: bind.key(definitionId), listId: bind.key(listId), items: bind.keys(itemIds) },
    );
    return new Map(res.rows.map((row) => [row.item_id ?? '', this.toEntry(row)]));
  }

  async write(batch: LedgerEntry[]): Promise<void> {
    const rows = [...batch].sort(inLockOrder).map(batchRow);
    await this.db.query('writing the ledger', WRITE_BATCH[this.db.engine](this.db.dialect.schema), { batch: bind.json(rows) });
    await this.countChanges(rows.length);
  }

  async writeIfMatch(writes: LedgerWrite[]): Promise<Map<string, string>> {
    const possible = writes.filter((w) => w.ifMatch === null || VERSION_ETAG.test(w.ifMatch));
    if (possible.length === 0) return new Map();
    const rows = possible
      .sort((a, b) => inLockOrder(a.entry, b.entry))
      .map((w) => ({ ...batchRow(w.entry), v: w.ifMatch === null ? null : Number(w.ifMatch) }));
    const res = await this.db.query<{ identity_hash: string; version: string | number }>('writing the ledger', WRITE_IF_MATCH[this.db.engine](this.db.dialect.schema), { batch: bind.json(rows) });
    return new Map(res.rows.map((row) => [row.identity_hash, String(row.version)]));
  }

  async remove(definitionId: string, identityHashes: string[]): Promise<void> {
    await this.db.query('deleting ledger entries', `DELETE FROM ${this.table} WHERE definition_id = @definitionId AND ${this.db.dialect.keyIn('identity_hash', '@hashes')}`, {
      definitionId: bind.key(definitionId),
      hashes: bind.keys(identityHashes),
    });
    await this.countChanges(identityHashes.length);
  }

  /** Once the rows changed since the last refresh cross the threshold, the statistics are refreshed (the write itself has already succeeded). */
  private async countChanges(rows: number): Promise<void> {
    this.rowsSinceStatistics += rows;
    if (this.rowsSinceStatistics < this.statisticsRefreshRows) return;
    this.rowsSinceStatistics = 0;
    await this.db.query('refreshing the ledger statistics', REFRESH_STATISTICS[this.db.engine](this.db.dialect.schema));
  }

  /** Keyset pages by identity hash; '' sorts before every (non-empty) hash. */
  async scanPage(definitionId: string, after: string | null, size: number): Promise<{ entries: LedgerEntry[]; resumeAfter?: string }> {
    const text = this.db.dialect.selectFirst('@take', { columns: LEDGER_COLUMNS, from: this.table, where: 'definition_id = @definitionId AND identity_hash > @after', orderBy: 'identity_hash' });
    const res = await this.db.query<LedgerRow>('scanning the ledger', text, { definitionId: bind.key(definitionId), after: bind.key(after ?? ''), take: bind.int(size) });
    const last = res.rows[res.rows.length - 1];
    const entries = res.rows.map((row) => this.toEntry(row));
    return res.rows.length < size || !last ? { entries } : { entries, resumeAfter: last.identity_hash };
  }

  private get table(): string {
    return `${this.db.dialect.schema}.ledger`;
  }

  private toEntry(r: LedgerRow): LedgerEntry {
    return {
      definitionId: r.definition_id,
      identityHash: r.identity_hash,
      listId: r.list_id,
      itemId: r.item_id,
      contentHash: r.content_hash,
      state: r.state,
      movedFrom: (this.db.json(r.moved_from) as LedgerEntry['movedFrom'] | undefined) ?? null,
      sourceReadAt: r.source_read_at ?? null,
      contentInDoubt: Boolean(r.content_in_doubt),
      fieldHashes: fieldHashesOrNull(this.db.json(r.field_hashes)),
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
      etag: String(r.version),
    };
  }
}

/** One entry as a row of the JSON batch parameter. */
function batchRow(e: LedgerEntry) {
  return {
    d: e.definitionId,
    h: e.identityHash,
    l: e.listId,
    i: e.itemId,
    c: e.contentHash,
    s: e.state,
    m: e.movedFrom ? JSON.stringify(e.movedFrom) : null,
    r: e.sourceReadAt ?? null,
    q: e.contentInDoubt === true,
    f: e.fieldHashes ? JSON.stringify(e.fieldHashes) : null,
  };
}
