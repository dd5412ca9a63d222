/**
 * One error base for the whole product. Every error carries a stable `code`, the module that
 * raised it and a class that decides what happens next:
 * - `config`: an admin must fix something (HTTP 400/404/409/422); never retried.
 * - `transient`: retry (queue handlers rethrow so the host redelivers; HTTP 503).
 * - `skippable`: one row is bad; record it and go on.
 */
export type ErrorClass = 'config' | 'transient' | 'skippable';

export interface FieldIssue {
  path: string;
  message: string;
  code?: string;
}

export interface SyncErrorOptions {
  code: string;
  errorClass: ErrorClass;
  module: string;
  status?: number;
  details?: FieldIssue[];
  cause?: unknown;
  retryAfterMs?: number;
}

export class SyncError extends Error {
  readonly code: string;
  readonly errorClass: ErrorClass;
  readonly module: string;
  readonly status: number;
  readonly details: FieldIssue[];
  readonly retryAfterMs?: number;

  constructor(message: string, options: SyncErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SyncError';
    this.code = options.code;
    this.errorClass = options.errorClass;
    this.module = options.module;
    this.status = options.status ?? defaultStatus(options.errorClass);
    this.details = options.details ?? [];
    this.retryAfterMs = options.retryAfterMs;
  }

  get transient(): boolean {
    return this.errorClass === 'transient';
  }
}

function defaultStatus(errorClass: ErrorClass): number {
  switch (errorClass) {
    case 'config':
      return 400;
    case 'transient':
      return 503;
    case 'skippable':
      return 422;
  }
}

export const configError = (module: string, code: string, message: string, extra: Partial<SyncErrorOptions> = {}) =>
  new SyncError(message, { ...extra, code, module, errorClass: 'config' });

export const transientError = (module: string, code: string, message: string, extra: Partial<SyncErrorOptions> = {}) =>
  new SyncError(message, { ...extra, code, module, errorClass: 'transient' });

export const skippableError = (module: string, code: string, message: string, extra: Partial<SyncErrorOptions> = {}) =>
  new SyncError(message, { ...extra, code, module, errorClass: 'skippable' });

export const notFound = (module: string, what: string, id: string) =>
  new SyncError(`${what} '${id}' was not found`, { code: 'not_found', module, errorClass: 'config', status: 404 });

export const conflict = (module: string, code: string, message: string, extra: Partial<SyncErrorOptions> = {}) =>
  new SyncError(message, { ...extra, code, module, errorClass: 'config', status: 409 });

/** Unknown errors are treated as transient: a retry is cheap, a lost row is not. */
export function classify(error: unknown): ErrorClass {
  return error instanceof SyncError ? error.errorClass : 'transient';
}

export function isSyncError(error: unknown, code?: string): error is SyncError {
  return error instanceof SyncError && (code === undefined || error.code === code);
}

/** A message that is safe to log or return: never includes a secret-bearing cause chain. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
