import { configError, SyncError, transientError } from '../../core/errors';

/**
 * Maps driver errors to the product's error classes. Messages are rebuilt from codes and the
 * driver's own message, which never carries the password (neither pg nor tedious puts it there);
 * the cause is kept for diagnostics but `describe()` only ever shows the message.
 */

export const MODULE = 'source';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

interface DriverErrorShape {
  code?: unknown;
  number?: unknown;
  message?: unknown;
  originalError?: unknown;
}

function shape(error: unknown): DriverErrorShape {
  return typeof error === 'object' && error !== null ? (error as DriverErrorShape) : {};
}

function message(error: unknown): string {
  const m = shape(error).message;
  return typeof m === 'string' && m.length > 0 ? m : String(error);
}

/** PostgreSQL: SQLSTATE classes decide (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
export function mapPgError(error: unknown, what: string): SyncError {
  if (error instanceof SyncError) return error;
  const code = typeof shape(error).code === 'string' ? (shape(error).code as string) : '';
  const text = `${what}: ${message(error)}`;
  const extra = { cause: error };
  if (NETWORK_CODES.has(code)) return transientError(MODULE, 'source_unreachable', text, extra);
  if (TLS_CODES.has(code) || /does not support SSL|SSL (is )?(off|required)|self[- ]signed/i.test(message(error))) {
    return configError(MODULE, 'source_tls_failed', text, extra);
  }
  if (/timeout|timed out|Connection terminated/i.test(message(error)) && code === '') {
    return transientError(MODULE, 'source_timeout', text, extra);
  }
  const cls = code.slice(0, 2);
  if (code === '57014') return transientError(MODULE, 'source_timeout', text, extra); // statement_timeout / cancel
  if (code === '28P01' || code === '28000') return configError(MODULE, 'source_auth_failed', text, { ...extra, status: 401 });
  if (code === '3D000') return configError(MODULE, 'source_database_missing', text, extra);
  if (code === '42501') return configError(MODULE, 'source_permission_denied', text, { ...extra, status: 403 });
  if (code === '42P01') return configError(MODULE, 'unknown_table', text, { ...extra, status: 404 });
  if (code === '42703') return configError(MODULE, 'unknown_column', text, extra);
  if (['08', '40', '53', '55', '57', '58', 'XX'].includes(cls)) return transientError(MODULE, 'source_unavailable', text, extra);
  if (cls === '22') return configError(MODULE, 'source_data_error', text, extra);
  if (cls === '42') return configError(MODULE, 'source_sql_error', text, extra);
  return transientError(MODULE, 'source_error', text, extra);
}

/** SQL Server: mssql's error codes for connection state, server error numbers for requests. */
export function mapMssqlError(error: unknown, what: string): SyncError {
  if (error instanceof SyncError) return error;
  const s = shape(error);
  const code = typeof s.code === 'string' ? s.code : '';
  const original = shape(s.originalError);
  const number = typeof s.number === 'number' ? s.number : typeof original.number === 'number' ? original.number : undefined;
  const text = `${what}: ${message(error)}`;
  const extra = { cause: error };
  if (code === 'ELOGIN' || number === 18456) return configError(MODULE, 'source_auth_failed', text, { ...extra, status: 401 });
  if (number === 4060) return configError(MODULE, 'source_database_missing', text, extra);
  if (number === 208) return configError(MODULE, 'unknown_table', text, { ...extra, status: 404 });
  if (number === 207) return configError(MODULE, 'unknown_column', text, extra);
  // 229/230: object permissions; 297/300: server permissions such as VIEW SERVER STATE
  if (number === 229 || number === 230 || number === 297 || number === 300) return configError(MODULE, 'source_permission_denied', text, { ...extra, status: 403 });
  if (number === 1205 || number === 40501 || number === 40613 || number === 49918 || number === 10928 || number === 10929) {
    return transientError(MODULE, 'source_unavailable', text, extra);
  }
  if (code === 'ETIMEOUT') return transientError(MODULE, 'source_timeout', text, extra);
  if (/certificate|self[- ]signed/i.test(message(error))) return configError(MODULE, 'source_tls_failed', text, extra);
  if (['ESOCKET', 'ECONNCLOSED', 'ENOTOPEN', 'ECONNRESET', 'ENOCONN'].includes(code) || NETWORK_CODES.has(code)) {
    return transientError(MODULE, 'source_unreachable', text, extra);
  }
  // conversion failures (bad date/number text, overflow): the data or the definition is wrong, a retry will not help
  if (number !== undefined && [241, 242, 245, 8114, 8115].includes(number)) return configError(MODULE, 'source_data_error', text, extra);
  return transientError(MODULE, 'source_error', text, extra);
}
