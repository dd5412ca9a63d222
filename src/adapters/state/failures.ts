import type { FailurePageOptions, FailureRecord, FailureStore, Page } from '../../core/ports/state';
import { distinct, isoOrThrow, pageRequest, storedErrorText, type PageRequest } from './common';

/** Per-row failures for every backend: one record per (definition, identity), replaced on each failure. */

export interface FailureStorage {
  /** Inserts or replaces the record of the failure's row. */
  write(failure: FailureRecord): Promise<void>;
  list(definitionId: string, includeQuarantined: boolean): Promise<FailureRecord[]>;
  /** In identity-hash order after the page token; `quarantined` undefined = every record. */
  page(definitionId: string, quarantined: boolean | undefined, request: PageRequest): Promise<Page<FailureRecord>>;
  /** The records of these hashes (distinct, at least one); absent ones are simply missing. */
  readMany(definitionId: string, identityHashes: string[]): Promise<FailureRecord[]>;
  /** Removes the records of these hashes (distinct, at least one). */
  remove(definitionId: string, identityHashes: string[]): Promise<void>;
}

export class Failures implements FailureStore {
  constructor(private readonly storage: FailureStorage) {}

  async putFailure(failure: FailureRecord): Promise<void> {
    isoOrThrow(failure.firstFailedAt, 'firstFailedAt');
    isoOrThrow(failure.lastFailedAt, 'lastFailedAt');
    await this.storage.write({ ...failure, lastError: storedErrorText(failure.lastError) });
  }

  pageFailures(definitionId: string, opts: FailurePageOptions = {}): Promise<Page<FailureRecord>> {
    return this.storage.page(definitionId, opts.quarantined, pageRequest(opts));
  }

  async getFailuresFor(definitionId: string, identityHashes: string[]): Promise<Map<string, FailureRecord>> {
    if (identityHashes.length === 0) return new Map();
    return new Map((await this.storage.readMany(definitionId, distinct(identityHashes))).map((f) => [f.identityHash, f]));
  }

  getFailures(definitionId: string, opts: { includeQuarantined?: boolean } = {}): Promise<FailureRecord[]> {
    return this.storage.list(definitionId, opts.includeQuarantined === true);
  }

  async deleteFailures(definitionId: string, identityHashes: string[]): Promise<void> {
    if (identityHashes.length > 0) await this.storage.remove(definitionId, distinct(identityHashes));
  }
}
