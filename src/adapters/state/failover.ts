import { primarySource } from '../../core/definitions';
import { isSyncError, notFound } from '../../core/errors';
import type { FailoverEvent, FailoverStore, Page, SourceHealthRecord, StoredDefinition } from '../../core/ports/state';
import { backoff, invalidInput, isoOrThrow, MODULE, pageRequest, type PageRequest } from './common';
import type { ConfigRecords } from './config-records';

/**
 * Failover bookkeeping for every backend: source health per (definition, source), the failover
 * events newest first, and the one-primary compare-and-set over the definition record.
 */

export interface SourceHealthStorage {
  /** Every source's record of one definition. */
  read(definitionId: string): Promise<SourceHealthRecord[]>;
  /** Inserts or replaces the record of (definition, source). */
  write(record: SourceHealthRecord): Promise<void>;
}

export interface FailoverEventStorage {
  /** Records the event unless one with its id is recorded already. */
  insertOnce(event: FailoverEvent): Promise<void>;
  page(definitionId: string, request: PageRequest): Promise<Page<FailoverEvent>>;
}

/** Conditional writes lost to unrelated edits (a shard list recorded, a mapping saved) before giving up. */
const SWAP_ATTEMPTS = 8;

export class FailoverBook implements FailoverStore {
  constructor(
    private readonly health: SourceHealthStorage,
    private readonly events: FailoverEventStorage,
    private readonly config: ConfigRecords,
  ) {}

  getSourceHealth(definitionId: string): Promise<SourceHealthRecord[]> {
    return this.health.read(definitionId);
  }

  async putSourceHealth(record: SourceHealthRecord): Promise<void> {
    if (!Number.isInteger(record.consecutiveFailures) || record.consecutiveFailures < 0) invalid('consecutiveFailures must be a whole number ≥ 0');
    for (const field of ['lastProbeAt', 'lastSuccessAt', 'lastFailureAt'] as const) {
      const value = record[field];
      if (value !== null) isoOrThrow(value, field);
    }
    await this.health.write(record);
  }

  async addFailoverEvent(event: FailoverEvent): Promise<void> {
    isoOrThrow(event.at, 'at');
    await this.events.insertOnce(event);
  }

  listFailoverEvents(definitionId: string, opts?: { limit?: number; next?: string }): Promise<Page<FailoverEvent>> {
    return this.events.page(definitionId, pageRequest(opts));
  }

  async swapPrimary(definitionId: string, from: string, to: string): Promise<StoredDefinition | null> {
    if (from === to) invalid('a failover needs two different sources');
    for (let attempt = 0; ; attempt++) {
      const stored = await this.config.get('definition', definitionId);
      if (!stored) throw notFound(MODULE, 'definition', definitionId);
      const sources = stored.definition.sources;
      if (primarySource(stored.definition) !== from) return null;
      if (!sources.some((s) => s.connectionId === to)) invalid(`'${to}' is not a source of definition '${definitionId}'`);
      const next: StoredDefinition = {
        ...stored,
        activeSourceId: to,
        definition: { ...stored.definition, sources: sources.map((s) => ({ ...s, role: s.connectionId === to ? 'primary' : 'secondary' })) },
      };
      try {
        return await this.config.put('definition', next, { ifMatch: stored.etag ?? '' });
      } catch (error) {
        // Someone else wrote the definition: read again; if it was a failover, `from` is no longer primary.
        if (!isSyncError(error, 'state_conflict') || attempt >= SWAP_ATTEMPTS) throw error;
        await backoff(attempt);
      }
    }
  }
}

function invalid(message: string): never {
  throw invalidInput(message);
}

