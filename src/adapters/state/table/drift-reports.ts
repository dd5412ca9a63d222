import type { TableEntity } from '@azure/data-tables';
import type { DriftDifferencePage, DriftReportRecord, Page } from '../../../core/ports/state';
import type { PageRequest } from '../common';
import type { DriftReportStorage } from '../drift-reports';
import { checkEntitySize, encodeKey, getJson, invertedTime, putJson, str, type Props } from './keys';
import { after, fail, type Row, type StateTables } from './tables';

/**
 * Drift reports in `<p>Drift`, PK = definition: the report as `r_<id>` plus a copy under
 * `t_<inverted createdAt>_<id>` for the newest-first listing (both in one transaction), and
 * each page of differences as `d_<id>_<kind>_<page>`.
 */
export class TableDriftReportStorage implements DriftReportStorage {
  constructor(private readonly tables: StateTables) {}

  async write(report: DriftReportRecord): Promise<void> {
    const pk = encodeKey(report.definitionId);
    const id = encodeKey(report.reportId);
    const body: Props = { reportId: report.reportId, createdAt: report.createdAt, status: report.status };
    putJson(body, 'report', report.report);
    checkEntitySize(body, `drift report '${report.reportId}'`);
    const rows: Props[] = [
      { ...body, partitionKey: pk, rowKey: `r_${id}` },
      { ...body, partitionKey: pk, rowKey: `t_${invertedTime(Date.parse(report.createdAt))}_${id}` },
    ];
    try {
      await this.tables.client.Drift.submitTransaction(rows.map((row) => ['upsert', row as TableEntity, 'Replace']));
    } catch (error) {
      fail(error, `saving drift report '${report.reportId}'`);
    }
  }

  async read(definitionId: string, reportId: string): Promise<DriftReportRecord | null> {
    const row = await this.tables.get('Drift', encodeKey(definitionId), `r_${encodeKey(reportId)}`);
    return row ? toReport(definitionId, row) : null;
  }

  page(definitionId: string, request: PageRequest): Promise<Page<DriftReportRecord>> {
    return this.tables.page('Drift', encodeKey(definitionId), { ge: 't_', lt: after('t_') }, request, (row) => toReport(definitionId, row));
  }

  async writeDifferences(p: DriftDifferencePage): Promise<void> {
    const entity: Props = { partitionKey: encodeKey(p.definitionId), rowKey: differencesKey(p.reportId, p.kind, p.page) };
    putJson(entity, 'items', p.items);
    await this.tables.upsert('Drift', entity, `drift differences of report '${p.reportId}'`);
  }

  async readDifferences(definitionId: string, reportId: string, kind: string, page: number): Promise<unknown[] | null> {
    const row = await this.tables.get('Drift', encodeKey(definitionId), differencesKey(reportId, kind, page));
    return row ? ((getJson(row, 'items') as unknown[] | undefined) ?? []) : null;
  }
}

const differencesKey = (reportId: string, kind: string, page: number) => `d_${encodeKey(reportId)}_${encodeKey(kind)}_${String(page).padStart(6, '0')}`;

function toReport(definitionId: string, row: Row): DriftReportRecord {
  return {
    definitionId,
    reportId: str(row, 'reportId') ?? '',
    createdAt: str(row, 'createdAt') ?? '',
    status: str(row, 'status') as DriftReportRecord['status'],
    report: getJson(row, 'report') ?? null,
  };
}
