import type { LedgerEntry } from '../../../core/ports/state';
import { iso } from '../common';
import type { LedgerStorage } from '../ledger';
import { bind, type SqlDb, type SqlEngine } from './db';

/**
 * The ledger in SQL. The database enforces both uniqueness rules itself (primary key on
 * (definition, identity), unique (definition, list, item) for known items), so no interleaving
 * of writers can break them; a batch is one statement, atomic as a whole.
 */

const LEDGER_COLUMNS = 'definition_id, identity_hash, list_id, item_id, content_hash, state, moved_from, created_at, updated_at';

interface LedgerRow {
  definition_id: string;
  identity_hash: string;
  list_id: string;
  item_id: string | null;
  content_hash: string;
  state: LedgerEntry['state'];
  moved_from: unknown;
  created_at: Date;
  updated_at: Date;
}

/**
 * A batch travels as one JSON parameter of rows `{d, h, l, i, c, s, m}`, unpacked by the
 * engine and upserted in one statement (SQL Server: MERGE WITH (HOLDLOCK), without which two
 * MERGEs can both take the insert branch).
 */
const WRITE_BATCH: Record<SqlEngine, (s: string) => string> = {
  postgres: (s) => `INSERT INTO ${s}.ledger AS t (definition_id, identity_hash, list_id, item_id, content_hash, state, moved_from)
       SELECT x.d, x.h, x.l, x.i, x.c, x.s, x.m::jsonb FROM jsonb_to_recordset(@batch::jsonb) AS x(d text, h text, l text, i text, c text, s text, m text)
       ON CONFLICT (definition_id, identity_hash) DO UPDATE SET
         list_id = excluded.list_id, item_id = excluded.item_id, content_hash = excluded.content_hash,
         state = excluded.state, moved_from = excluded.moved_from, updated_at = now()`,
  sqlserver: (s) => `MERGE ${s}.ledger WITH (HOLDLOCK) AS t
       USING (SELECT d, h, l, i, c, s, m FROM OPENJSON(@batch) WITH (
                d NVARCHAR(128) '$.d', h NVARCHAR(128) '$.h', l NVARCHAR(256) '$.l', i NVARCHAR(128) '$.i',
                c NVARCHAR(128) '$.c', s NVARCHAR(16) '$.s', m NVARCHAR(MAX) '$.m')) AS x
       ON t.definition_id = x.d AND t.identity_hash = x.h
       WHEN MATCHED THEN UPDATE SET list_id = x.l, item_id = x.i, content_hash = x.c, state = x.s, moved_from = x.m, updated_at = SYSUTCDATETIME()
       WHEN NOT MATCHED THEN INSERT (definition_id, identity_hash, list_id, item_id, content_hash, state, moved_from) VALUES (x.d, x.h, x.l, x.i, x.c, x.s, x.m);`,
};

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
    const rows = [...batch].sort(inLockOrder).map((e) => ({
      d: e.definitionId,
      h: e.identityHash,
      l: e.listId,
      i: e.itemId,
      c: e.contentHash,
      s: e.state,
      m: e.movedFrom ? JSON.stringify(e.movedFrom) : null,
    }));
    await this.db.query('writing the ledger', WRITE_BATCH[this.db.engine](this.db.dialect.schema), { batch: bind.json(rows) });
    await this.countChanges(rows.length);
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
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
    };
  }
}
