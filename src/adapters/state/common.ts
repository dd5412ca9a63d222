import { configError, conflict, SyncError, transientError } from '../../core/errors';
import { redact } from '../../core/ports/logger';
import type { FieldHashes, Page } from '../../core/ports/state';

/** Errors, validation and small helpers that every aggregate and every backend share. */

export const MODULE = 'state';

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

/** A page of records in the order of a unique text key, fetched as `limit + 1`: the token is the last key kept. */
export function pageAfterKey<R, T>(rows: R[], limit: number, toItem: (row: R) => T, keyOf: (row: R) => string): Page<T> {
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1];
  const items = kept.map(toItem);
  return rows.length > limit && last ? { items, next: encodePageToken(keyOf(last)) } : { items };
}

/** The key a page token of `pageAfterKey` continues after ('' = from the start). */
export const keyAfterToken = (token: string | undefined): string => decodePageToken(token, (v): v is string => typeof v === 'string') ?? '';

export const invalidInput = (message: string) => configError(MODULE, 'state_invalid', message, { status: 422 });

export function rethrowIfSyncError(error: unknown): void {
  if (error instanceof SyncError) throw error;
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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full-jitter backoff: spreads colliding writers apart so optimistic retries converge quickly. */
export const backoff = (attempt: number, baseMs = 5, capMs = 250) => sleep(Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 10)));

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

/** What a listing asks for once the limit is checked: how many, and the token of the page before. */
export interface PageRequest {
  limit: number;
  next?: string;
}

export const pageRequest = (opts: { limit?: number; next?: string } = {}): PageRequest => ({ limit: pageLimit(opts.limit), next: opts.next });

/** Keys looked up or deleted once each, whatever the caller repeated. */
export const distinct = (keys: readonly string[]): string[] => [...new Set(keys)];

/** SQL timestamps come back as Date; the port speaks ISO strings. */
export const iso = (value: Date | string | null | undefined): string | undefined =>
  value === null || value === undefined ? undefined : value instanceof Date ? value.toISOString() : new Date(value).toISOString();

export function isoOrThrow(value: string, field: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw invalidInput(`${field} must be an ISO-8601 time, got '${value}'`);
  return d;
}

/** A stored `fieldHashes` value, or null when absent or not of the expected shape (it is only an optimisation). */
export function fieldHashesOrNull(value: unknown): FieldHashes | null {
  if (value === null || typeof value !== 'object') return null;
  const { contentHash, byField } = value as Partial<FieldHashes>;
  if (typeof contentHash !== 'string' || byField === null || typeof byField !== 'object') return null;
  return { contentHash, byField };
}
