import type { DriftReportRecord } from '../../../core/ports/state';
import type { DriftReportStorage } from '../drift-reports';
import { encodeKey, getJson, putJson, str, type Props } from './keys';
import type { StateTables } from './tables';

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
    await this.tables.upsert('Drift', entity, `drift report '${report.reportId}'`);
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
