import type { TableEntity } from '@azure/data-tables';
import type { DriftReportRecord } from '../../../core/ports/state';
import type { DriftReportStorage } from '../drift-reports';
import { checkEntitySize, encodeKey, getJson, putJson, str, type Props } from './keys';
import { fail, type StateTables } from './tables';

/** Drift reports in `<p>Drift`: PK = definition, RK = report id, the findings as chunked JSON. */
export class TableDriftReportStorage implements DriftReportStorage {
  constructor(private readonly tables: StateTables) {}

  async write(report: DriftReportRecord): Promise<void> {
    const entity: Props = {
      partitionKey: encodeKey(report.definitionId),
      rowKey: encodeKey(report.reportId),
      createdAt: report.createdAt,
      status: report.status,
    };
    putJson(entity, 'report', report.report);
    checkEntitySize(entity, `drift report '${report.reportId}'`);
    try {
      await this.tables.client.Drift.upsertEntity(entity as TableEntity, 'Replace');
    } catch (error) {
      fail(error, 'saving the drift report');
    }
  }

  async read(definitionId: string, reportId: string): Promise<DriftReportRecord | null> {
    const row = await this.tables.get('Drift', encodeKey(definitionId), encodeKey(reportId));
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
