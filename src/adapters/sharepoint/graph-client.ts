import { Client, HTTPMessageHandler, type Context, type Middleware, type MiddlewareOptions } from '@microsoft/microsoft-graph-client';
import type { AccessTokenSource } from './auth';
import {
  failureFromBatchResponse,
  failureFromThrown,
  isListViewThreshold,
  retryKind,
  toSyncError,
  type GraphFailure,
} from './graph-errors';
import { signalFromHeaders, type TenantLimiter } from './limiter';
import { recordSpend } from '../../core/spend-meter';

/**
 * The Graph client as this adapter uses it, and the two ways it sends: one request with
 * retries, and `$batch` with retries of only the requests that failed.
 *
 * Middleware chain (instead of the SDK's default one):
 * - bearer token on requests to the configured origin only. The default AuthenticationHandler
 *   strips the token from any URL that is not an `https://` Graph host or a `customHosts` entry,
 *   and its host check only recognises `https://` at all, so no `customHosts` setting lets it
 *   talk to the emulator at `http://127.0.0.1:port`;
 * - a throttle observer that shows every response's status and RateLimit/Retry-After headers
 *   to the tenant's limiter;
 * - no RetryHandler: its private 429 loop would bypass the shared limiter (and charge RU the
 *   limiter never saw); retries happen here, through the limiter.
 */

export interface GraphTransportOptions {
  /** `https://graph.microsoft.com` in Azure, or the emulator's URL locally; a trailing `/v1.0` is accepted. */
  baseUrl: string;
  tokens: AccessTokenSource;
  /** The tenant's shared limiter (`limiterForTenant`). */
  limiter: TenantLimiter;
  /** Per-attempt timeout; a write whose answer times out is retried like a lost response. */
  requestTimeoutMs?: number;
  /** Attempts for transient failures (5xx, network) of one request. */
  maxAttempts?: number;
  /** Attempts when throttled (each waits out Retry-After first). */
  maxThrottledAttempts?: number;
  /**
   * How long one `batch` call may wait for throttling to pass (GRAPH_MAX_INLINE_WAIT_SECONDS).
   * Requests still throttled beyond it come back with `retryAt`, so the caller can reschedule
   * instead of holding its invocation (and its queue lock) through a long storm.
   */
  maxInlineWaitMs?: number;
  /** First backoff after a transient failure; doubles per attempt, with jitter. */
  retryBaseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface GraphCall {
  method: HttpMethod;
  /** Relative to the version root (`/sites/...`), or an `@odata.nextLink`. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** RU this request costs (limiter.RU_COST). */
  ru: number;
}

/** One request of a `$batch` (learn.microsoft.com/graph/json-batching). */
export interface BatchRequest {
  id: string;
  method: HttpMethod;
  /** Relative URL without the version (`/sites/.../items`). */
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  ru: number;
}

export interface BatchResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  /** Set on a 429/503 the transport stopped waiting for: the earliest time (epoch ms, limiter clock) worth trying again. */
  retryAt?: number;
}

/**
 * Per-request state shared with the middleware: a token failure. The SDK wraps anything a middleware throws into a status-less GraphError that
 * would read as a lost connection; a refused credential must stay a config error.
 */
class RequestTag implements MiddlewareOptions {
  authError?: unknown;
}

function tagOf(context: Context): RequestTag | undefined {
  return context.middlewareControl?.getMiddlewareOptions(RequestTag) as RequestTag | undefined;
}

class BearerAuthMiddleware implements Middleware {
  private next?: Middleware;
  constructor(
    private readonly tokens: AccessTokenSource,
    private readonly origin: string,
  ) {}
  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    // Never hand the token to another host, e.g. a nextLink that points elsewhere.
    if (new URL(url).origin === this.origin) {
      let token: string;
      try {
        token = await this.tokens.getAccessToken();
      } catch (error) {
        const tag = tagOf(context);
        if (tag) tag.authError = error;
        throw error;
      }
      context.options ??= {};
      const headers = (context.options.headers ??= {}) as Record<string, string>;
      headers.Authorization = `Bearer ${token}`;
    }
    await this.next!.execute(context);
  }
  setNext(next: Middleware): void {
    this.next = next;
  }
}

class ThrottleObserverMiddleware implements Middleware {
  private next?: Middleware;
  constructor(private readonly limiter: TenantLimiter) {}
  async execute(context: Context): Promise<void> {
    await this.next!.execute(context);
    const response = context.response;
    if (!response) return;
    this.limiter.observe(signalFromHeaders(response.status, (name) => response.headers.get(name)));
  }
  setNext(next: Middleware): void {
    this.next = next;
  }
}

const MAX_BATCH = 20;
/** The earliest a request handed back as throttled is worth sending again. */
const MIN_RESCHEDULE_MS = 1_000;

export class GraphTransport {
  readonly client: Client;
  private readonly origin: string;
  private readonly versionRoot: string;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly maxThrottledAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxInlineWaitMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  readonly limiter: TenantLimiter;

  constructor(opts: GraphTransportOptions) {
    const base = new URL(opts.baseUrl);
    this.origin = base.origin;
    const prefix = base.pathname.replace(/\/+$/, '').replace(/\/v1\.0$/i, '');
    this.versionRoot = `${this.origin}${prefix}/v1.0`;
    this.limiter = opts.limiter;
    this.timeoutMs = opts.requestTimeoutMs ?? 100_000;
    this.maxAttempts = opts.maxAttempts ?? 6;
    this.maxThrottledAttempts = opts.maxThrottledAttempts ?? 12;
    this.baseDelayMs = opts.retryBaseDelayMs ?? 500;
    this.maxInlineWaitMs = opts.maxInlineWaitMs ?? 30_000;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));

    const auth = new BearerAuthMiddleware(opts.tokens, this.origin);
    const observer = new ThrottleObserverMiddleware(opts.limiter);
    const http = new HTTPMessageHandler();
    auth.setNext(observer);
    observer.setNext(http);
    this.client = Client.initWithMiddleware({
      middleware: auth,
      baseUrl: `${this.origin}${prefix}/`,
      defaultVersion: 'v1.0',
      // Only consulted by the SDK's own handlers (not used here); kept so a default chain added
      // later would still accept an https custom host such as a corporate Graph proxy.
      customHosts: new Set([base.hostname]),
    });
  }

  /**
   * The SDK treats only `https://` URLs as absolute, so an `http://` nextLink from the emulator
   * would be appended to the base URL. Links on our origin become paths under the version root.
   */
  relative(link: string): string {
    if (link.startsWith(`${this.versionRoot}/`)) return link.slice(this.versionRoot.length);
    if (/^https?:\/\//i.test(link) && !link.startsWith(this.origin)) {
      throw toSyncError({ status: 0, code: 'foreign_link', message: `a next link points to another host: ${new URL(link).origin}` }, 'following a Graph link');
    }
    return link;
  }

  private backoff(attempt: number): number {
    // "Equal jitter" (AWS architecture blog): at least half the step, so retries never bunch at 0.
    const cap = Math.min(30_000, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(cap / 2 + (Math.random() * cap) / 2);
  }

  /**
   * One attempt, through the limiter. Returns the body or the failure; throws only when no
   * token could be had (the credential's own error, config or transient).
   */
  private async attempt(call: GraphCall): Promise<{ ok: true; body: unknown } | { ok: false; failure: GraphFailure }> {
    const permit = await this.limiter.acquire(call.ru);
    recordSpend(call.ru);
    const tag = new RequestTag();
    try {
      const request = this.client
        .api(call.path)
        .middlewareOptions([tag])
        .option('signal', AbortSignal.timeout(this.timeoutMs));
      if (call.headers) request.headers(call.headers);
      let body: unknown;
      switch (call.method) {
        case 'GET':
          body = await request.get();
          break;
        case 'POST':
          body = await request.post(call.body ?? {});
          break;
        case 'PATCH':
          body = await request.patch(call.body ?? {});
          break;
        case 'DELETE':
          body = await request.delete();
          break;
      }
      return { ok: true, body };
    } catch (error) {
      if (tag.authError !== undefined) throw tag.authError;
      return { ok: false, failure: failureFromThrown(error) };
    } finally {
      permit.release();
    }
  }

  /**
   * Sends one request, retrying throttling (after the limiter's pause) and transient failures
   * (with backoff). Only for idempotent requests or ones whose repeat the caller handles
   * (a repeated list or column create answers 409, which ensureList resolves).
   */
  async call<T = unknown>(call: GraphCall, what: string): Promise<T> {
    let transient = 0;
    let throttled = 0;
    for (;;) {
      const result = await this.attempt(call);
      if (result.ok) return result.body as T;
      const failure = result.failure;
      const kind = retryKind(failure.status);
      if (kind === 'permanent' || isListViewThreshold(failure)) throw toSyncError(failure, what);
      if (kind === 'throttled') {
        // The observer has already paused the tenant for Retry-After; the next acquire waits it out.
        if (++throttled >= this.maxThrottledAttempts) throw toSyncError(failure, what);
      } else {
        if (++transient >= this.maxAttempts) throw toSyncError(failure, what);
        await this.sleep(this.backoff(transient));
      }
    }
  }

  /**
   * Sends requests in `$batch` envelopes of at most 20, concurrently as far as the limiter lets
   * them. A request answered 429/503/5xx (or whose envelope failed or went unanswered) is sent
   * again in a later envelope with the other leftovers; every other answer is final. Returns one
   * final response per request id; a request still failing after its attempts gets its last
   * failure (status 0 when it never got an answer).
   *
   * The envelope itself is charged nothing: SharePoint charges the requests inside it.
   */
  async batch(requests: readonly BatchRequest[]): Promise<Map<string, BatchResponse>> {
    const out = new Map<string, BatchResponse>();
    const chunks: BatchRequest[][] = [];
    for (let i = 0; i < requests.length; i += MAX_BATCH) chunks.push(requests.slice(i, i + MAX_BATCH));
    const waitUntil = this.limiter.now() + this.maxInlineWaitMs;
    await Promise.all(chunks.map((chunk) => this.runChunk(chunk, out, waitUntil)));
    return out;
  }

  /**
   * Throttled requests are sent again only while the tenant's pause ends before `waitUntil`;
   * past it (or once their throttled attempts are spent) they are answered with `retryAt`.
   */
  private async runChunk(chunk: readonly BatchRequest[], out: Map<string, BatchResponse>, waitUntil: number): Promise<void> {
    let pending = [...chunk];
    const attempts = new Map<string, { transient: number; throttled: number }>(chunk.map((r) => [r.id, { transient: 0, throttled: 0 }]));
    const lastThrottled = new Map<string, BatchResponse>();
    const giveUpThrottled = (r: BatchRequest, response: BatchResponse) => {
      // Never "now": a storm without Retry-After must not turn rescheduling into a hot loop.
      const retryAt = Math.max(this.limiter.resumesAt(), this.limiter.now() + Math.max(MIN_RESCHEDULE_MS, retryAfterMsOf(response) ?? 0));
      out.set(r.id, { ...response, retryAt });
    };
    while (pending.length > 0) {
      if (this.limiter.resumesAt() > waitUntil) {
        // The storm outlasts what this call may wait: hand the rest back to be rescheduled.
        for (const r of pending) giveUpThrottled(r, lastThrottled.get(r.id) ?? throttledPlaceholder(r.id));
        return;
      }
      const ru = pending.reduce((sum, r) => sum + r.ru, 0);
      const envelope = {
        requests: pending.map((r) => {
          const request: Record<string, unknown> = { id: r.id, method: r.method, url: r.url };
          if (r.body !== undefined) {
            request.body = r.body;
            request.headers = { 'Content-Type': 'application/json', ...r.headers };
          } else if (r.headers) {
            request.headers = r.headers;
          }
          return request;
        }),
      };
      const result = await this.attempt({ method: 'POST', path: '/$batch', body: envelope, ru });
      const retry: BatchRequest[] = [];
      let backoffAttempt = 0;
      /** Sends `r` again while its attempts of this kind last; else `response` is its final answer. */
      const retryOrSettle = (r: BatchRequest, kind: 'throttled' | 'transient', response: BatchResponse) => {
        const count = attempts.get(r.id)!;
        if (kind === 'throttled') {
          lastThrottled.set(r.id, response);
          if (++count.throttled < this.maxThrottledAttempts) retry.push(r);
          else giveUpThrottled(r, response);
          return;
        }
        if (++count.transient < this.maxAttempts) retry.push(r);
        else out.set(r.id, response);
        backoffAttempt = Math.max(backoffAttempt, count.transient);
      };
      if (!result.ok) {
        // The envelope failed as a whole. If it was applied and only the answer was lost, the
        // repeat is still safe: creates carry SyncKey (a duplicate answers 409 and is adopted
        // by the caller), updates set the same values again, deletes answer 404.
        const kind = retryKind(result.failure.status);
        for (const r of pending) {
          const synthetic: BatchResponse = {
            id: r.id,
            status: result.failure.status,
            headers: {},
            body: { error: { code: result.failure.code, message: result.failure.message } },
          };
          if (kind === 'permanent' || isListViewThreshold(result.failure)) {
            out.set(r.id, synthetic);
            continue;
          }
          retryOrSettle(r, kind, synthetic);
        }
      } else {
        const responses = readBatchResponses(result.body);
        for (const r of pending) {
          const response = responses.get(r.id);
          if (!response) {
            // Graph answers every request of an envelope; a missing one is treated as lost.
            retryOrSettle(r, 'transient', { id: r.id, status: 0, headers: {}, body: { error: { code: 'missing_response', message: 'the $batch answer had no response for this request' } } });
            continue;
          }
          // Inner responses carry their own Retry-After and RateLimit-* headers (a throttled
          // request inside a 200 envelope is a 429 only there): the limiter must see them.
          this.limiter.observe(signalFromHeaders(response.status, (name) => header(response.headers, name)));
          const kind = response.status < 400 ? 'ok' : retryKind(response.status);
          if (kind === 'ok' || kind === 'permanent' || isListViewThreshold(failureFromBatchResponse(response.status, response.body))) {
            out.set(r.id, response);
            continue;
          }
          retryOrSettle(r, kind, response);
        }
      }
      if (retry.length > 0 && backoffAttempt > 0) await this.sleep(this.backoff(backoffAttempt));
      pending = retry;
    }
  }
}

/** A request that never got an answer because the tenant was paused before it could be sent. */
function throttledPlaceholder(id: string): BatchResponse {
  return { id, status: 429, headers: {}, body: { error: { code: 'throttled', message: 'not sent: the tenant is throttled beyond the inline wait' } } };
}

function retryAfterMsOf(response: BatchResponse): number | undefined {
  const raw = header(response.headers, 'retry-after');
  const seconds = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

function header(headers: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

function readBatchResponses(body: unknown): Map<string, BatchResponse> {
  const map = new Map<string, BatchResponse>();
  const responses = (body as { responses?: unknown })?.responses;
  if (!Array.isArray(responses)) return map;
  for (const raw of responses as Array<Record<string, unknown>>) {
    if (raw === null || typeof raw !== 'object') continue;
    const id = String(raw.id);
    const status = typeof raw.status === 'number' ? raw.status : Number(raw.status);
    const headers = raw.headers && typeof raw.headers === 'object' ? (raw.headers as Record<string, string>) : {};
    map.set(id, { id, status: Number.isFinite(status) ? status : 0, headers, body: raw.body });
  }
  return map;
}
