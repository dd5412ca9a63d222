import type { DriftDifferencePage, DriftReportRecord, DriftReportStore, Page } from '../../core/ports/state';
import { invalidInput, isoOrThrow, pageRequest, type PageRequest } from './common';

/**
 * Drift reports for every backend: one per (definition, report id), replaced by a later save,
 * listed newest first; their differences in numbered pages per kind beside them, so a report of
 * any size is written and read a page at a time.
 */

export interface DriftReportStorage {
  /** Inserts or replaces the report. */
  write(report: DriftReportRecord): Promise<void>;
  read(definitionId: string, reportId: string): Promise<DriftReportRecord | null>;
  /** The definition's reports newest first, from the page token `request.next`. */
  page(definitionId: string, request: PageRequest): Promise<Page<DriftReportRecord>>;
  writeDifferences(page: DriftDifferencePage): Promise<void>;
  readDifferences(definitionId: string, reportId: string, kind: string, page: number): Promise<unknown[] | null>;
}

const KIND = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

function checkPageKey(kind: string, page: number): void {
  if (!KIND.test(kind)) throw invalidInput(`drift difference kind '${kind}' is not a plain name`);
  if (!Number.isInteger(page) || page < 0 || page > 999_999) throw invalidInput(`drift difference page ${page} is not a whole number 0–999999`);
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

  listDriftReports(definitionId: string, opts?: { limit?: number; next?: string }): Promise<Page<DriftReportRecord>> {
    return this.storage.page(definitionId, pageRequest(opts));
  }

  async putDriftDifferences(page: DriftDifferencePage): Promise<void> {
    checkPageKey(page.kind, page.page);
    await this.storage.writeDifferences(page);
  }

  async getDriftDifferences(definitionId: string, reportId: string, kind: string, page: number): Promise<unknown[] | null> {
    checkPageKey(kind, page);
    return this.storage.readDifferences(definitionId, reportId, kind, page);
  }
}
