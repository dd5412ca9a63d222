/**
 * A Graph request as the engine sees it, the result a handler gives back, and the few result
 * shapes every handler builds (learn.microsoft.com/graph/errors for the error body).
 */
import { GraphError, graphErrorBody } from './errors';
import type { ActiveFault } from './faults';
import type { Store } from './store';

export interface GraphCall {
  method: string;
  /** Decoded path without the `/v1.0` prefix, starting with `/`. */
  path: string;
  query: URLSearchParams;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: unknown;
  /** Origin used in absolute links, e.g. `http://127.0.0.1:7072`. */
  baseUrl: string;
  requestId: string;
  clientRequestId: string;
}

export interface GraphResult {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
  /** Applied, but the answer is lost: a 500 in its place, or a destroyed socket. */
  lose?: { mode: 'status' | 'reset'; status: number };
  /** Destroy the connection; nothing was applied. */
  reset?: boolean;
}

/** What the resource handlers work on. */
export interface ResourceContext {
  store: Store;
  clock: () => number;
  listViewThreshold: number;
}

export const JSON_CONTENT_TYPE =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

export function ok(body: unknown): GraphResult {
  return { status: 200, headers: { 'Content-Type': JSON_CONTENT_TYPE }, body };
}

export function created(body: unknown): GraphResult {
  return { status: 201, headers: { 'Content-Type': JSON_CONTENT_TYPE }, body };
}

export function noContent(): GraphResult {
  return { status: 204, headers: {} };
}

export function collection(call: GraphCall, value: unknown[], extra: Record<string, string> = {}): GraphResult {
  // A simplified context URL (the resource path); Graph's clients do not read it.
  return ok({ '@odata.context': `${call.baseUrl}/v1.0/$metadata#${encodeURI(call.path.slice(1))}`, ...extra, value });
}

export function errorResult(
  call: Pick<GraphCall, 'requestId' | 'clientRequestId'>,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): GraphResult {
  return {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: graphErrorBody(code, message, call.requestId, call.clientRequestId),
  };
}

/** A thrown GraphError as its Graph answer; anything else is Graph's 500 `generalException`. */
export function resultOfError(e: unknown, call: GraphCall): GraphResult {
  if (e instanceof GraphError) return errorResult(call, e.status, e.code, e.message, { ...e.headers });
  const message = e instanceof Error ? e.message : String(e);
  return errorResult(call, 500, 'generalException', `General exception while processing: ${message}`);
}

const FAULT_CODES: Record<number, [string, string]> = {
  429: ['activityLimitReached', 'The request has been throttled'],
  500: ['generalException', 'General exception while processing'],
  502: ['badGateway', 'The gateway received an invalid response.'],
  503: ['serviceNotAvailable', 'The service is temporarily unavailable. Please retry after a delay.'],
  504: ['gatewayTimeout', 'The gateway timed out waiting for the service.'],
};

/**
 * The answer a `status` or `reset` fault gives in place of the request, which then does not run.
 * Undefined for `appliedButLost`: that request runs and only its answer is lost afterwards.
 */
export function injectedAnswer(fault: ActiveFault, call: GraphCall): GraphResult | undefined {
  if (fault.kind === 'reset') return { status: 0, headers: {}, reset: true };
  if (fault.kind !== 'status') return undefined;
  const [code, message] = FAULT_CODES[fault.status] ?? ['generalException', 'Injected failure'];
  const headers: Record<string, string> = {};
  const retryAfter = fault.retryAfter ?? (fault.status === 429 || fault.status === 503 ? 1 : undefined);
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  return errorResult(call, fault.status, fault.code ?? code, fault.message ?? message, headers);
}

/** What an `appliedButLost` fault does to the answer of the request it applied. */
export function lostAnswer(fault: Extract<ActiveFault, { kind: 'appliedButLost' }>): NonNullable<GraphResult['lose']> {
  return { mode: fault.mode ?? 'status', status: fault.status ?? 500 };
}
