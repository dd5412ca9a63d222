import type { DriftReportRecord } from '../../../core/ports/state';
import { iso, isoOrThrow } from '../common';
import type { DriftReportStorage } from '../drift-reports';
import { bind, placeholders, type SqlDb } from './db';

interface DriftReportRow {
  created_at: Date;
  status: DriftReportRecord['status'];
  report: unknown;
}

/** Drift reports in SQL: one row per (definition, report id), the findings as JSON. */
export class SqlDriftReportStorage implements DriftReportStorage {
  constructor(private readonly db: SqlDb) {}

  async write(r: DriftReportRecord): Promise<void> {
    const key = { definition_id: bind.key(r.definitionId), report_id: bind.key(r.reportId) };
    const row = { created_at: bind.time(isoOrThrow(r.createdAt, 'createdAt')), status: bind.key(r.status), report: bind.json(r.report) };
    await this.db.query('saving the drift report', this.db.dialect.upsert(this.table, { key: placeholders(key), values: placeholders(row) }), { ...key, ...row });
  }

  async read(definitionId: string, reportId: string): Promise<DriftReportRecord | null> {
    const res = await this.db.query<DriftReportRow>(
      'reading the drift report',
      `SELECT created_at, status, report FROM ${this.table} WHERE definition_id = @definitionId AND report_id = @reportId`,
      { definitionId: bind.key(definitionId), reportId: bind.key(reportId) },
    );
    const row = res.rows[0];
    return row ? { definitionId, reportId, createdAt: iso(row.created_at) ?? '', status: row.status, report: this.db.json(row.report) ?? null } : null;
  }

  private get table(): string {
    return `${this.db.dialect.schema}.drift_reports`;
  }
}
