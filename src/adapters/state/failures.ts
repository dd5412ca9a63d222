import type { FailureRecord, FailureStore } from '../../core/ports/state';
import { distinct, isoOrThrow } from './common';

/** Per-row failures for every backend: one record per (definition, identity), replaced on each failure. */

export interface FailureStorage {
  /** Inserts or replaces the record of the failure's row. */
  write(failure: FailureRecord): Promise<void>;
  list(definitionId: string, includeQuarantined: boolean): Promise<FailureRecord[]>;
  /** Removes the records of these hashes (distinct, at least one). */
  remove(definitionId: string, identityHashes: string[]): Promise<void>;
}

export class Failures implements FailureStore {
  constructor(private readonly storage: FailureStorage) {}

  async putFailure(failure: FailureRecord): Promise<void> {
    isoOrThrow(failure.firstFailedAt, 'firstFailedAt');
    isoOrThrow(failure.lastFailedAt, 'lastFailedAt');
    await this.storage.write(failure);
  }

  getFailures(definitionId: string, opts: { includeQuarantined?: boolean } = {}): Promise<FailureRecord[]> {
    return this.storage.list(definitionId, opts.includeQuarantined === true);
  }

  async deleteFailures(definitionId: string, identityHashes: string[]): Promise<void> {
    if (identityHashes.length > 0) await this.storage.remove(definitionId, distinct(identityHashes));
  }
}
