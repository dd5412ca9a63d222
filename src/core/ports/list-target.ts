/**
 * The SharePoint side of a sync as the core sees it (DESIGN §4, §6, §7). The production adapter
 * speaks Microsoft Graph; tests run the same adapter against the project's Graph emulator.
 *
 * Errors: whole-call failures throw `SyncError` (`config` for 400/401/403/404 and list-view
 * threshold refusals, `transient` for 408/429/5xx/network once retries are spent; a throttled
 * one carries `retryAfterMs`). `writeItems`
 * never throws for an HTTP failure: every op gets its own `WriteResult`, so one bad row never
 * hides the fate of the others. It throws only when no request can be sent at all (no token).
 */

/**
 * Hidden text column on every synced list holding the row's identity hash (64 hex chars).
 * Indexed, so lookups by it stay legal past 5,000 items; unique, so SharePoint itself refuses a
 * second item for one row and a retried create can find and adopt the item it already made.
 */
export const SYNC_KEY_COLUMN = 'SyncKey';
export const SYNC_KEY_MAX_LENGTH = 64;

export interface SiteInfo {
  id: string;
  displayName: string;
  webUrl: string;
}

export interface ListInfo {
  id: string;
  displayName: string;
  webUrl?: string;
}

export type ColumnType = 'text' | 'note' | 'number' | 'currency' | 'boolean' | 'dateTime' | 'dateOnly' | 'choice';

export interface ColumnSpec {
  /** Internal (API) name; what item `fields` are keyed by. */
  name: string;
  displayName?: string;
  type: ColumnType;
  /** text only; SharePoint's single-line text holds at most 255 characters. */
  maxLength?: number;
  /** number and currency: digits shown after the decimal point (0–5); display only. */
  decimalPlaces?: number;
  /** choice only. */
  choices?: string[];
  indexed?: boolean;
  enforceUniqueValues?: boolean;
  hidden?: boolean;
  required?: boolean;
}

/** A column as the list has it now. `type` is `other` for column kinds this product never creates (lookup, person, ...). */
export interface ExistingColumn {
  id: string;
  name: string;
  displayName: string;
  type: ColumnType | 'other';
  maxLength?: number;
  decimalPlaces?: number;
  choices?: string[];
  indexed: boolean;
  enforceUniqueValues: boolean;
  hidden: boolean;
  required: boolean;
  readOnly: boolean;
}

export interface ListSpec {
  displayName: string;
  /** Wanted columns besides `SyncKey`, which `ensureList` always adds. */
  columns: ColumnSpec[];
}

export interface ColumnConflict {
  column: string;
  existing: ExistingColumn;
  wanted: ColumnSpec;
  reason: string;
}

export interface EnsureListResult {
  /** Null only on a dry run for a list that does not exist yet. */
  list: ListInfo | null;
  /** True when the list was (or, on a dry run, would be) created. */
  created: boolean;
  /** Columns missing from the list (all of them for a new list), including `SyncKey` when missing. */
  columnsToAdd: ColumnSpec[];
  /** Columns actually added by this call; empty on a dry run or when there are conflicts. */
  added: ColumnSpec[];
  /** Existing columns that cannot hold what the spec wants. When non-empty nothing was changed. */
  conflicts: ColumnConflict[];
  dryRun: boolean;
}

export type WriteKind = 'create' | 'update' | 'delete';

export interface WriteOp {
  /** The caller's correlation id (e.g. the identity hash); echoed in the result. */
  opId: string;
  kind: WriteKind;
  /** Required for update and delete. */
  itemId?: string;
  /** Field values by internal column name. A create must carry `SyncKey` (that is what makes it retry-safe). */
  fields?: Record<string, unknown>;
}

export type WriteResult =
  | {
      opId: string;
      ok: true;
      itemId: string;
      eTag?: string;
      /**
       * A create found its item already there (an earlier attempt whose response was lost, or
       * an earlier run) and adopted it. The create's fields have already been written onto the
       * adopted item, so the outcome equals a create that went through; no second write needed.
       */
      adopted?: boolean;
    }
  | {
      opId: string;
      ok: false;
      /** HTTP status from Graph; 0 when no response ever arrived. */
      status: number;
      /**
       * Stable codes: `unique_conflict`, `invalid_field`, `item_not_found` (404 on update/delete:
       * a delete reporting it has nothing left to do), `throttled`, `unavailable`, `forbidden`,
       * `unauthorized`, `missing_sync_key`, `bad_request`, `graph_error`.
       */
      code: string;
      message: string;
      errorClass: 'config' | 'transient' | 'skippable';
      /** The field Graph rejected, when it named one. */
      field?: string;
      /**
       * On `throttled` / `unavailable` (429/503) that outlasted the adapter's inline wait
       * (GRAPH_MAX_INLINE_WAIT_SECONDS): the ISO time from which a retry is worth sending.
       * The caller reschedules the op for then instead of holding its invocation.
       */
      retryAt?: string;
    };

export interface ListItem {
  id: string;
  fields: Record<string, unknown>;
  eTag?: string;
}

export interface PageOptions {
  /** Fields to return (internal names). */
  select: string[];
  /** Items per request; Graph allows up to 999 for list items. Defaults to 500. */
  pageSize?: number;
  /**
   * Equality filter on one field. Lists over 5,000 items refuse filters on non-indexed columns:
   * that surfaces as a `config` error (code `list_view_threshold`) naming the column to index.
   */
  where?: { field: string; equals: string | number | boolean };
}

/**
 * One read of a list's delta feed. With a token that had expired (HTTP 410) nothing is read:
 * Graph's answer would be a fresh enumeration of the whole list, which the caller does its own
 * way (page by page), after taking a new token with `latestDeltaToken`.
 */
export type DeltaResult =
  | {
      reset: false;
      /** Items created or changed since the token (the whole list when no token was given). */
      items: ListItem[];
      deletedIds: string[];
      /** Pass to the next call to get only later changes. */
      nextToken: string;
    }
  | { reset: true };

export interface ListTarget {
  /** `siteRef`: a Graph site id or `hostname:/server-relative-path` (e.g. `contoso.sharepoint.com:/sites/sales`). */
  getSite(siteRef: string): Promise<SiteInfo>;
  searchSites(query: string): Promise<SiteInfo[]>;
  listLists(siteId: string): Promise<ListInfo[]>;
  /** Case-insensitive on display name, as SharePoint list titles are. */
  findList(siteId: string, displayName: string): Promise<ListInfo | null>;
  /** Idempotent: creates the list and adds missing columns (always `SyncKey`); a second call changes nothing. */
  ensureList(siteId: string, spec: ListSpec, opts?: { dryRun?: boolean }): Promise<EnsureListResult>;
  listColumns(siteId: string, listId: string): Promise<ExistingColumn[]>;
  /** Any number of ops, in `$batch` calls of at most 20; results in the order of `ops`. */
  writeItems(siteId: string, listId: string, ops: WriteOp[]): Promise<WriteResult[]>;
  /** Looks items up by the indexed `SyncKey` column; keys without an item are absent from the map. */
  findBySyncKey(siteId: string, listId: string, syncKeys: string[], opts?: { select?: string[] }): Promise<Map<string, ListItem>>;
  pageItems(siteId: string, listId: string, opts: PageOptions): AsyncIterable<ListItem[]>;
  delta(siteId: string, listId: string, token?: string, opts?: { select?: string[] }): Promise<DeltaResult>;
  /**
   * A delta token for changes from now on, without reading any item (`token=latest`, 1 RU):
   * taken before an enumeration, so no change made while it runs is missed.
   */
  latestDeltaToken(siteId: string, listId: string): Promise<string>;
  /** Reachability and credentials probe for /health. */
  ping(): Promise<void>;
}
