import { isSyncError } from '../../../core/errors';
import type { FailoverEvent, Page, SourceHealthRecord } from '../../../core/ports/state';
import { isoOrThrow, type PageRequest } from '../common';
import type { FailoverEventStorage, SourceHealthStorage } from '../failover';
import { bind, placeholders, type SqlDb } from './db';
import { newestFirstPage } from './keyset';

interface HealthRow {
  doc: unknown;
}

interface EventRow {
  event_id: string;
  at: Date;
  doc: unknown;
}

/** Source health in SQL: one row per (definition, source), the record as JSON. */
export class SqlSourceHealthStorage implements SourceHealthStorage {
  constructor(private readonly db: SqlDb) {}

  async read(definitionId: string): Promise<SourceHealthRecord[]> {
    const res = await this.db.query<HealthRow>('reading source health', `SELECT doc FROM ${this.table} WHERE definition_id = @definitionId ORDER BY source_id`, {
      definitionId: bind.key(definitionId),
    });
    return res.rows.map((r) => this.db.json(r.doc) as SourceHealthRecord);
  }

  async write(record: SourceHealthRecord): Promise<void> {
    const key = { definition_id: bind.key(record.definitionId), source_id: bind.key(record.sourceId) };
    const row = { doc: bind.json(record) };
    const text = this.db.dialect.upsert(this.table, { key: placeholders(key), values: placeholders(row), onUpdate: { updated_at: this.db.dialect.now } });
    await this.db.query('saving source health', text, { ...key, ...row });
  }

  private get table(): string {
    return `${this.db.dialect.schema}.source_health`;
  }
}

/** Failover events in SQL: one row per (definition, event id), listed newest first by time. */
export class SqlFailoverEventStorage implements FailoverEventStorage {
  constructor(private readonly db: SqlDb) {}

  async insertOnce(event: FailoverEvent): Promise<void> {
    const key = { definition_id: bind.key(event.definitionId), event_id: bind.key(event.eventId) };
    const row = { at: bind.time(isoOrThrow(event.at, 'at')), doc: bind.json(event) };
    const text = this.db.dialect.insertIfAbsent(this.table, { key: placeholders(key), values: placeholders(row) });
    await this.db.query('recording a failover', text, { ...key, ...row }).catch((error: unknown) => {
      // the same event recorded twice (a retried request) is one event
      if (!isSyncError(error, 'state_conflict')) throw error;
    });
  }

  page(definitionId: string, request: PageRequest): Promise<Page<FailoverEvent>> {
    const listing = { table: this.table, definitionId, timeColumn: 'at', idColumn: 'event_id', what: 'listing failovers' } as const;
    return newestFirstPage<EventRow, FailoverEvent>(this.db, listing, request, (r) => this.db.json(r.doc) as FailoverEvent);
  }

  private get table(): string {
    return `${this.db.dialect.schema}.failover_events`;
  }
}
