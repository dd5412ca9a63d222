import type { FailureRecord } from '../../../core/ports/state';
import { iso, isoOrThrow } from '../common';
import type { FailureStorage } from '../failures';
import { bind, type SqlDb } from './db';

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
    const text = this.db.dialect.upsert(this.table, {
      key: { definition_id: '@definitionId', identity_hash: '@identityHash' },
      values: {
        row_key: '@rowKey',
        attempts: '@attempts',
        last_error: '@lastError',
        last_run_id: '@lastRunId',
        quarantined: '@quarantined',
        first_failed_at: '@firstFailedAt',
        last_failed_at: '@lastFailedAt',
      },
    });
    await this.db.query('saving a row failure', text, {
      definitionId: bind.key(f.definitionId),
      identityHash: bind.key(f.identityHash),
      rowKey: bind.json(f.key),
      attempts: bind.int(f.attempts),
      lastError: bind.text(f.lastError),
      lastRunId: bind.key(f.lastRunId ?? null),
      quarantined: bind.bit(f.quarantined),
      firstFailedAt: bind.time(isoOrThrow(f.firstFailedAt, 'firstFailedAt')),
      lastFailedAt: bind.time(isoOrThrow(f.lastFailedAt, 'lastFailedAt')),
    });
  }

  async list(definitionId: string, includeQuarantined: boolean): Promise<FailureRecord[]> {
    const res = await this.db.query<FailureRow>(
      'reading row failures',
      `SELECT * FROM ${this.table} WHERE definition_id = @definitionId${includeQuarantined ? '' : ' AND quarantined = @quarantined'} ORDER BY identity_hash`,
      { definitionId: bind.key(definitionId), ...(includeQuarantined ? {} : { quarantined: bind.bit(false) }) },
    );
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
