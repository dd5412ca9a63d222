import type { DriftDifferencePage, DriftReportRecord, Page } from '../../../core/ports/state';
import { iso, isoOrThrow, type PageRequest } from '../common';
import type { DriftReportStorage } from '../drift-reports';
import { bind, placeholders, type SqlDb } from './db';
import { newestFirstPage } from './keyset';

interface DriftReportRow {
  report_id: string;
  created_at: Date;
  status: DriftReportRecord['status'];
  report: unknown;
}

/** Drift reports in SQL: one row per (definition, report id) with the summary as JSON; differences one row per (report, kind, page). */
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
      `SELECT report_id, created_at, status, report FROM ${this.table} WHERE definition_id = @definitionId AND report_id = @reportId`,
      { definitionId: bind.key(definitionId), reportId: bind.key(reportId) },
    );
    const row = res.rows[0];
    return row ? this.toRecord(definitionId, row) : null;
  }

  page(definitionId: string, request: PageRequest): Promise<Page<DriftReportRecord>> {
    const listing = { table: this.table, definitionId, timeColumn: 'created_at', idColumn: 'report_id', what: 'listing drift reports' } as const;
    return newestFirstPage<DriftReportRow, DriftReportRecord>(this.db, listing, request, (r) => this.toRecord(definitionId, r));
  }

  async writeDifferences(p: DriftDifferencePage): Promise<void> {
    const key = { definition_id: bind.key(p.definitionId), report_id: bind.key(p.reportId), kind: bind.key(p.kind), page_no: bind.int(p.page) };
    const row = { items: bind.json(p.items) };
    const text = this.db.dialect.upsert(this.differences, { key: placeholders(key), values: placeholders(row) });
    await this.db.query('saving drift differences', text, { ...key, ...row });
  }

  async readDifferences(definitionId: string, reportId: string, kind: string, page: number): Promise<unknown[] | null> {
    const res = await this.db.query<{ items: unknown }>(
      'reading drift differences',
      `SELECT items FROM ${this.differences} WHERE definition_id = @definitionId AND report_id = @reportId AND kind = @kind AND page_no = @page`,
      { definitionId: bind.key(definitionId), reportId: bind.key(reportId), kind: bind.key(kind), page: bind.int(page) },
    );
    const row = res.rows[0];
    return row ? ((this.db.json(row.items) as unknown[] | undefined) ?? []) : null;
  }

  private toRecord(definitionId: string, row: DriftReportRow): DriftReportRecord {
    return { definitionId, reportId: row.report_id, createdAt: iso(row.created_at) ?? '', status: row.status, report: this.db.json(row.report) ?? null };
  }

  private get table(): string {
    return `${this.db.dialect.schema}.drift_reports`;
  }

  private get differences(): string {
    return `${this.db.dialect.schema}.drift_differences`;
  }
}
