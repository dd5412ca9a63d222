import type { FailureRecord, Page } from '../../../core/ports/state';
import { iso, isoOrThrow, keyAfterToken, pageAfterKey, type PageRequest } from '../common';
import type { FailureStorage } from '../failures';
import { bind, placeholders, type SqlDb } from './db';

interface FailureRow {
  identity_hash: string;
  row_key: unknown;
  attempts: number;
  last_error: string;
  last_run_id: string | null;
  quarantined: boolean;
  first_failed_at: Date;
  last_failed_at: Date;
}

/** Row failures in SQL: one row per (definition, identity). */
export class SqlFailureStorage implements FailureStorage {
  constructor(private readonly db: SqlDb) {}

  async write(f: FailureRecord): Promise<void> {
    const key = { definition_id: bind.key(f.definitionId), identity_hash: bind.key(f.identityHash) };
    const row = {
      row_key: bind.json(f.key),
      attempts: bind.int(f.attempts),
      last_error: bind.text(f.lastError),
      last_run_id: bind.key(f.lastRunId ?? null),
      quarantined: bind.bit(f.quarantined),
      first_failed_at: bind.time(isoOrThrow(f.firstFailedAt, 'firstFailedAt')),
      last_failed_at: bind.time(isoOrThrow(f.lastFailedAt, 'lastFailedAt')),
    };
    await this.db.query('saving a row failure', this.db.dialect.upsert(this.table, { key: placeholders(key), values: placeholders(row) }), { ...key, ...row });
  }

  async list(definitionId: string, includeQuarantined: boolean): Promise<FailureRecord[]> {
    const res = await this.db.query<FailureRow>(
      'reading row failures',
      `SELECT * FROM ${this.table} WHERE definition_id = @definitionId${includeQuarantined ? '' : ' AND quarantined = @quarantined'} ORDER BY identity_hash`,
      { definitionId: bind.key(definitionId), ...(includeQuarantined ? {} : { quarantined: bind.bit(false) }) },
    );
    return res.rows.map((r) => this.toFailure(definitionId, r));
  }

  async page(definitionId: string, quarantined: boolean | undefined, request: PageRequest): Promise<Page<FailureRecord>> {
    const where = `definition_id = @definitionId AND identity_hash > @after${quarantined === undefined ? '' : ' AND quarantined = @quarantined'}`;
    const res = await this.db.query<FailureRow>(
      'reading a page of row failures',
      this.db.dialect.selectFirst('@take', { columns: '*', from: this.table, where, orderBy: 'identity_hash' }),
      { definitionId: bind.key(definitionId), after: bind.key(keyAfterToken(request.next)), take: bind.int(request.limit + 1), ...(quarantined === undefined ? {} : { quarantined: bind.bit(quarantined) }) },
    );
    return pageAfterKey(res.rows, request.limit, (r) => this.toFailure(definitionId, r), (r) => r.identity_hash);
  }

  async readMany(definitionId: string, identityHashes: string[]): Promise<FailureRecord[]> {
    const res = await this.db.query<FailureRow>('reading row failures', `SELECT * FROM ${this.table} WHERE definition_id = @definitionId AND ${this.db.dialect.keyIn('identity_hash', '@hashes')}`, {
      definitionId: bind.key(definitionId),
      hashes: bind.keys(identityHashes),
    });
    return res.rows.map((r) => this.toFailure(definitionId, r));
  }

  async remove(definitionId: string, identityHashes: string[]): Promise<void> {
    await this.db.query('deleting row failures', `DELETE FROM ${this.table} WHERE definition_id = @definitionId AND ${this.db.dialect.keyIn('identity_hash', '@hashes')}`, {
      definitionId: bind.key(definitionId),
      hashes: bind.keys(identityHashes),
    });
  }

  private get table(): string {
    return `${this.db.dialect.schema}.failures`;
  }

  private toFailure(definitionId: string, r: FailureRow): FailureRecord {
    const f: FailureRecord = {
      definitionId,
      identityHash: r.identity_hash,
      key: this.db.json(r.row_key) as unknown[],
      attempts: r.attempts,
      lastError: r.last_error,
      quarantined: r.quarantined,
      firstFailedAt: iso(r.first_failed_at) ?? '',
      lastFailedAt: iso(r.last_failed_at) ?? '',
    };
    if (r.last_run_id !== null) f.lastRunId = r.last_run_id;
    return f;
  }
}
