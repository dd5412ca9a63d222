import { SyncError, type ErrorClass } from '../../core/errors';

/**
 * How Graph failures become product errors (docs/STYLE "Errors"; learn.microsoft.com/graph/errors):
 * 401/403 are the admin's to fix (consent, site permission), 408/429/5xx and lost connections
 * are worth retrying, a 400 on one item is that row's problem.
 */

export const MODULE = 'sharepoint';

/** One Graph failure, from an HTTP response, a response inside a `$batch`, or a lost connection (status 0). */
export interface GraphFailure {
  status: number;
  code: string;
  message: string;
  retryAfterMs?: number;
}

export type RetryKind = 'throttled' | 'transient' | 'permanent';

export function retryKind(status: number): RetryKind {
  if (status === 429 || status === 503) return 'throttled';
  if (status === 0 || status === 408 || status >= 500) return 'transient';
  return 'permanent';
}

/**
 * Graph's refusals of a query that would scan past the list view threshold: a filter or order
 * on a non-indexed column without the Prefer header (400), or with it on a list over 5,000
 * items. No retry helps; the column must be indexed.
 */
export function isListViewThreshold(failure: GraphFailure): boolean {
  return /list view threshold|not indexed|HonorNonIndexedQueriesWarningMayFailRandomly|cannot be referenced in filter/i.test(failure.message);
}

/** Graph names the rejected field in its message (`Field 'Amount' expects a number`); finds which of ours it is. */
export function fieldNamedIn(message: string, fieldNames: readonly string[]): string | undefined {
  const quoted = /(?:field|column)\s+['"]([^'"]+)['"]/i.exec(message)?.[1];
  if (quoted) return fieldNames.find((f) => f.toLowerCase() === quoted.toLowerCase()) ?? quoted;
  // Otherwise the first of our field names the message quotes.
  return fieldNames.find((f) => message.includes(`'${f}'`) || message.includes(`"${f}"`));
}

/** Reads the failure out of whatever the Graph client threw (a GraphError, a fetch error, anything). */
export function failureFromThrown(error: unknown): GraphFailure {
  const e = error as { statusCode?: unknown; code?: unknown; message?: unknown; body?: unknown; headers?: unknown; name?: unknown };
  const status = typeof e?.statusCode === 'number' && e.statusCode > 0 ? e.statusCode : 0;
  let code = typeof e?.code === 'string' && e.code ? e.code : status === 0 ? 'network_error' : `http_${status}`;
  let message = typeof e?.message === 'string' && e.message ? e.message : '';
  // Non-JSON bodies (a proxy's HTML 502, an empty 500) reach us as the raw body.
  if (!message && typeof e?.body === 'string') message = e.body.slice(0, 300);
  if (status === 0) {
    const cause = (error as { cause?: { code?: unknown; message?: unknown } })?.cause;
    const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : String(e?.name ?? 'error');
    message = message ? `${message} (${detail})` : `no response from Microsoft Graph (${detail})`;
    code = 'network_error';
  }
  const failure: GraphFailure = { status, code, message: message || `HTTP ${status}` };
  const headers = e?.headers as { get?: (n: string) => string | null } | undefined;
  const retryAfter = typeof headers?.get === 'function' ? headers.get('retry-after') : null;
  if (retryAfter && Number.isFinite(Number(retryAfter))) failure.retryAfterMs = Number(retryAfter) * 1000;
  return failure;
}

/** A response inside a `$batch` that is not 2xx. */
export function failureFromBatchResponse(status: number, body: unknown): GraphFailure {
  const err = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return {
    status,
    code: typeof err?.code === 'string' ? err.code : `http_${status}`,
    message: typeof err?.message === 'string' ? err.message : `HTTP ${status}`,
  };
}

/** The error class of a failure that ends a whole call (not a single item write). */
export function callErrorClass(failure: GraphFailure): ErrorClass {
  if (isListViewThreshold(failure)) return 'config';
  return retryKind(failure.status) === 'permanent' ? 'config' : 'transient';
}

/** A SyncError that remembers Graph's own status and code, for callers that react to one (409, 410). */
export class GraphCallError extends SyncError {
  constructor(
    message: string,
    options: ConstructorParameters<typeof SyncError>[1],
    readonly graph: GraphFailure,
  ) {
    super(message, options);
  }
}

export function graphStatusOf(error: unknown): number | undefined {
  return error instanceof GraphCallError ? error.graph.status : undefined;
}

/** Turns a failure that ends a whole call into a SyncError; `what` says what we were doing. */
export function toSyncError(failure: GraphFailure, what: string): GraphCallError {
  const make = (message: string, options: ConstructorParameters<typeof SyncError>[1]) => new GraphCallError(message, options, failure);
  const detail = `${what}: Graph answered ${failure.status || 'nothing'} ${failure.code}: ${failure.message}`;
  if (isListViewThreshold(failure)) {
    return make(`${detail}. Index the filtered column, or filter on an indexed one.`, {
      code: 'list_view_threshold',
      module: MODULE,
      errorClass: 'config',
      status: 400,
    });
  }
  switch (failure.status) {
    case 401:
      return make(detail, { code: 'graph_unauthorized', module: MODULE, errorClass: 'config', status: 401 });
    case 403:
      return make(`${detail}. Grant the app Sites.Selected or Sites.ReadWrite.All on the site.`, {
        code: 'graph_forbidden',
        module: MODULE,
        errorClass: 'config',
        status: 403,
      });
    case 404:
      return make(detail, { code: 'not_found', module: MODULE, errorClass: 'config', status: 404 });
    case 409:
      return make(detail, { code: 'graph_conflict', module: MODULE, errorClass: 'config', status: 409 });
  }
  if (retryKind(failure.status) !== 'permanent') {
    return make(detail, {
      code: failure.status === 429 ? 'graph_throttled' : 'graph_unavailable',
      module: MODULE,
      errorClass: 'transient',
      status: 503,
      retryAfterMs: failure.retryAfterMs,
    });
  }
  return make(detail, { code: 'graph_bad_request', module: MODULE, errorClass: 'config', status: 400 });
}
