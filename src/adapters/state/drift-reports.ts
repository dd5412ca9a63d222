import type { DriftReportRecord, DriftReportStore } from '../../core/ports/state';
import { isoOrThrow } from './common';

/** Drift reports for every backend: one per (definition, report id), replaced by a later save. */

export interface DriftReportStorage {
  /** Inserts or replaces the report. */
  write(report: DriftReportRecord): Promise<void>;
  read(definitionId: string, reportId: string): Promise<DriftReportRecord | null>;
}

export class DriftReports implements DriftReportStore {
  constructor(private readonly storage: DriftReportStorage) {}

  async putDriftReport(report: DriftReportRecord): Promise<void> {
    isoOrThrow(report.createdAt, 'createdAt');
    await this.storage.write(report);
  }

  getDriftReport(definitionId: string, reportId: string): Promise<DriftReportRecord | null> {
    return this.storage.read(definitionId, reportId);
  }
}
