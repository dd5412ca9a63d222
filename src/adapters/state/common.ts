import { configError, conflict, SyncError, transientError } from '../../core/errors';
import { redact } from '../../core/ports/logger';
import type { LedgerEntry, LedgerState, Page, ProgressCounter, RunCounts, RunRecord } from '../../core/ports/state';

/** Helpers shared by every state-store adapter, so that all three behave alike. */

export const MODULE = 'state';

export const COUNT_KEYS = ['read', 'created', 'updated', 'unchanged', 'moved', 'deleted', 'failed'] as const satisfies ReadonlyArray<keyof RunCounts>;
export const PROGRESS_COUNTERS = [...COUNT_KEYS, 'batchesExpected', 'batchesSettled'] as const satisfies ReadonlyArray<ProgressCounter>;
const LEDGER_STATES: ReadonlySet<string> = new Set<LedgerState>(['pending', 'synced', 'moving', 'deleted']);

export { emptyRunCounts as emptyCounts } from '../../core/ports/state';

export const stateConflict = (message: string, cause?: unknown) => conflict(MODULE, 'state_conflict', message, cause === undefined ? {} : { cause });

export const stateUnavailable = (message: string, cause?: unknown) =>
  transientError(MODULE, 'state_unavailable', message, cause === undefined ? {} : { cause });

/** Thrown before a write when a record cannot fit the store's limits; retrying cannot help. */
export const recordTooLarge = (what: string, size: number, limit: number) =>
  configError(MODULE, 'state_record_too_large', `${what} is ${size} characters of JSON, more than the state store keeps (${limit}); store less detail`, {
    status: 413,
  });

/**
 * Error text as it is stored (run errors, failure reasons): a driver message may echo a
 * connection string or password, and these records are shown to every reader of the API.
 */
export const storedErrorText = <T extends string | null | undefined>(text: T): T => (typeof text === 'string' ? (redact(text) as T) : text);

export const invalidInput = (message: string) => configError(MODULE, 'state_invalid', message, { status: 422 });

/** Validates deltas before any I/O, so a typo'd counter name cannot silently do nothing. */
export function checkDeltas(deltas: Partial<Record<ProgressCounter, number>>): Array<[ProgressCounter, number]> {
  const out: Array<[ProgressCounter, number]> = [];
  for (const [name, value] of Object.entries(deltas)) {
    if (!(PROGRESS_COUNTERS as readonly string[]).includes(name)) throw invalidInput(`unknown run counter '${name}'`);
    if (value === undefined || value === 0) continue;
    if (!Number.isInteger(value)) throw invalidInput(`run counter '${name}' must change by a whole number, got ${value}`);
    out.push([name as ProgressCounter, value]);
  }
  return out;
}

export function applyDeltas(run: RunRecord, deltas: Array<[ProgressCounter, number]>): RunRecord {
  const counts = { ...run.counts };
  let { batchesExpected, batchesSettled } = run;
  for (const [name, value] of deltas) {
    if (name === 'batchesExpected') batchesExpected += value;
    else if (name === 'batchesSettled') batchesSettled += value;
    else counts[name] += value;
  }
  return { ...run, counts, batchesExpected, batchesSettled };
}

/**
 * Checks a ledger batch and keeps the last entry per (definition, identity): a batch that names
 * an identity twice means "the later write wins", and SQL upserts refuse to touch a row twice.
 */
export function normaliseLedgerBatch(entries: LedgerEntry[]): LedgerEntry[] {
  const byKey = new Map<string, LedgerEntry>();
  const claims = new Map<string, string>();
  for (const e of entries) {
    if (!e.definitionId) throw invalidInput('ledger entry without definitionId');
    if (!e.identityHash) throw invalidInput('ledger entry without identityHash');
    if (!e.listId) throw invalidInput(`ledger entry ${e.identityHash} has no listId`);
    if (!LEDGER_STATES.has(e.state)) throw invalidInput(`ledger entry ${e.identityHash} has unknown state '${String(e.state)}'`);
    if (e.itemId === '') throw invalidInput(`ledger entry ${e.identityHash} has an empty itemId; use null while it is unknown`);
    byKey.set(`${e.definitionId}\u0000${e.identityHash}`, e);
  }
  const out = [...byKey.values()];
  for (const e of out) {
    if (e.itemId === null) continue;
    const claim = `${e.definitionId}\u0000${e.listId}\u0000${e.itemId}`;
    const other = claims.get(claim);
    if (other !== undefined) throw stateConflict(`item ${e.itemId} of list ${e.listId} is claimed twice in one ledger batch (identities ${other} and ${e.identityHash})`);
    claims.set(claim, e.identityHash);
  }
  return out;
}

export function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full-jitter backoff: spreads colliding writers apart so optimistic retries converge quickly. */
export const backoff = (attempt: number, baseMs = 5, capMs = 250) => sleep(Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 10)));

/** A page of rows ordered by a unique text key, fetched as `limit + 1`: the token is the last key kept. */
export function pageAfterKey<R, T>(rows: R[], limit: number, toItem: (row: R) => T, keyOf: (row: R) => string): Page<T> {
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1];
  const items = kept.map(toItem);
  return rows.length > limit && last ? { items, next: encodePageToken(keyOf(last)) } : { items };
}

export const keyAfterToken = (token: string | undefined): string => decodePageToken(token, (v): v is string => typeof v === 'string') ?? '';

/** Page tokens are opaque to callers; they carry a keyset position, never an offset. */
export function encodePageToken(position: unknown): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

export function decodePageToken<T>(token: string | undefined, check: (value: unknown) => value is T): T | undefined {
  if (token === undefined || token === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw configError(MODULE, 'invalid_page_token', 'the page token is not one this service issued');
  }
  if (!check(value)) throw configError(MODULE, 'invalid_page_token', 'the page token is not one this service issued');
  return value;
}

export function pageLimit(limit: number | undefined, fallback = 50, max = 1000): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1) throw invalidInput(`page limit must be a positive whole number, got ${limit}`);
  return Math.min(limit, max);
}

export function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw invalidInput(`lease ttl must be a positive number of milliseconds, got ${ttlMs}`);
}

/** SQL timestamps come back as Date; the port speaks ISO strings. */
export const iso = (value: Date | string | null | undefined): string | undefined =>
  value === null || value === undefined ? undefined : value instanceof Date ? value.toISOString() : new Date(value).toISOString();

export function isoOrThrow(value: string, field: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw invalidInput(`${field} must be an ISO-8601 time, got '${value}'`);
  return d;
}

/** Removes the Versioned fields so they are never stored inside the document itself. */
export function withoutVersion<T extends { etag?: string; createdAt?: string; updatedAt?: string }>(record: T): Omit<T, 'etag' | 'createdAt' | 'updatedAt'> {
  const { etag: _etag, createdAt: _createdAt, updatedAt: _updatedAt, ...rest } = record;
  return rest;
}

export function rethrowIfSyncError(error: unknown): void {
  if (error instanceof SyncError) throw error;
}
