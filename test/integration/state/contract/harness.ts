import { createHash, randomUUID } from 'node:crypto';
import { SyncDefinitionInput } from '../../../../src/core/definitions';
import { isSyncError } from '../../../../src/core/errors';
import type { LedgerEntry, RunRecord, StateStore, StoredDefinition } from '../../../../src/core/ports/state';

/** What every aggregate's contract cases share: the store under test, other instances over its storage, and record builders. */

export interface StoreUnderTest {
  store: StateStore;
  /** Another instance over the same storage (as a second process would have). */
  open(): StateStore;
  /** Drops what the factory created. */
  cleanup(): Promise<void>;
}

export const uid = () => randomUUID().slice(0, 8);
export const hash = (s: string) => createHash('sha256').update(s).digest('hex');

export async function expectSyncError(promise: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  if (!isSyncError(caught, code)) throw new Error(`expected SyncError '${code}', got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
}

export function definition(id: string): StoredDefinition {
  return {
    definition: SyncDefinitionInput.parse({
      id,
      sources: [{ connectionId: 'src-a', role: 'primary' }],
      table: { schema: 'dbo', name: 'Orders' },
      fields: [{ source: 'Title' }, { source: 'Amount', type: 'currency' }],
      cursor: { kind: 'timestamp', column: 'UpdatedAt' },
      target: { connectionId: 'sp-a', siteId: 'contoso.sharepoint.com,1,2' },
      sharding: { strategy: 'none', list: 'Orders' },
    }),
    mappingVersion: 1,
    activeSourceId: 'src-a',
    lists: { Orders: 'list-1' },
  };
}

export function entry(definitionId: string, key: string, listId: string, itemId: string | null, extra: Partial<LedgerEntry> = {}): LedgerEntry {
  return { definitionId, identityHash: hash(key), listId, itemId, contentHash: `c-${key}`, state: itemId === null ? 'pending' : 'synced', ...extra };
}

export function run(definitionId: string, runId: string, startedAt: Date, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    runId,
    definitionId,
    mode: 'incremental',
    trigger: 'schedule',
    status: 'running',
    startedAt: startedAt.toISOString(),
    counts: { read: 0, created: 0, updated: 0, unchanged: 0, moved: 0, deleted: 0, failed: 0 },
    batchesExpected: 0,
    batchesSettled: 0,
    ...extra,
  };
}

export async function collect(iter: AsyncIterable<LedgerEntry[]>): Promise<LedgerEntry[][]> {
  const pages: LedgerEntry[][] = [];
  for await (const page of iter) pages.push(page);
  return pages;
}

export function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The stores a contract case works with, available once the suite's beforeAll has run. */
export interface ContractContext {
  /** The store under test, initialised. */
  readonly store: StateStore;
  /** One of a fixed few other instances over the same storage, as other Function instances would be. */
  another(): StateStore;
}

