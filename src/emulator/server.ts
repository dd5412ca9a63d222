/**
 * The emulator's HTTP server: Graph routes under `/v1.0` (or without it), `/$batch`, and the
 * control / inspection endpoints under `/_emulator` (no auth, no RU, no latency, no faults).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorResult, JSON_CONTENT_TYPE, type GraphCall, type GraphResult } from './call';
import {
  checkBudget,
  checkLatency,
  createEmulatorState,
  serveControl,
  type EmulatorConfig,
  type EmulatorState,
  type LatencyMs,
} from './control';
import { FaultBook } from './faults';
import { GraphEngine } from './graph';
import { newGuid } from './ids';
import { MetricsRecorder } from './metrics';
import { loadSnapshotFile, writeSnapshotFile } from './snapshot';
import { DEFAULT_SITES, LIST_VIEW_THRESHOLD, Store, type SiteSpec } from './store';
import { Throttle } from './throttle';

export interface GraphEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Per-app resource units per minute; default 1,250 (Microsoft's figure for 0-1k licences). */
  budgetRuPerMinute?: number;
  /** Added to every Graph HTTP request: fixed + random(0..jitter) ms; default none. */
  latencyMs?: LatencyMs;
  /** Load at start (if the file exists), save on close and every `snapshotIntervalMs`. */
  snapshotPath?: string;
  snapshotIntervalMs?: number;
  /** Sites that always exist; default one site, contoso.sharepoint.com/sites/sync. */
  sites?: SiteSpec[];
  /** SharePoint's list view threshold; default 5,000. */
  listViewThreshold?: number;
  /** Time source for the RU window and timestamps (tests pass a fake clock). */
  clock?: () => number;
}

export interface GraphEmulator {
  /** e.g. `http://127.0.0.1:7072`; Graph routes live under `${url}/v1.0`. */
  url: string;
  port: number;
  state: EmulatorState;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function startGraphEmulator(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
  const clock = options.clock ?? Date.now;
  const host = options.host ?? '127.0.0.1';
  const config: EmulatorConfig = {
    budgetRuPerMinute: checkBudget(options.budgetRuPerMinute ?? 1250),
    latencyMs: checkLatency(options.latencyMs ?? { fixed: 0, jitter: 0 }),
    listViewThreshold: options.listViewThreshold ?? LIST_VIEW_THRESHOLD,
  };
  const store = new Store(options.sites && options.sites.length > 0 ? options.sites : DEFAULT_SITES, clock);
  const snapshotPath = options.snapshotPath;
  if (snapshotPath) await loadSnapshotFile(store, snapshotPath);
  const throttle = new Throttle(config.budgetRuPerMinute);
  const faults = new FaultBook();
  const metrics = new MetricsRecorder(clock);
  const engine = new GraphEngine({ store, throttle, faults, metrics, clock, listViewThreshold: config.listViewThreshold });

  let savedAt = store.mutations;
  const save = async (): Promise<void> => {
    if (!snapshotPath) return;
    const mutations = store.mutations;
    await writeSnapshotFile(store, snapshotPath, clock());
    savedAt = mutations;
  };

  const state = createEmulatorState({ store, metrics, faults, throttle, config, clock, save });

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'generalException', message: e instanceof Error ? e.message : String(e) } }));
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 30_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    if (url.pathname === '/_emulator' || url.pathname.startsWith('/_emulator/')) {
      const body = await readBody(req);
      return serveControl(state, emulatorUrl, req, res, url, body);
    }
    metrics.httpRequests++;
    const requestId = newGuid();
    const clientRequestId = headerValue(req, 'client-request-id') ?? requestId;
    const ids = { requestId, clientRequestId };
    let text: string;
    try {
      text = await readBody(req);
    } catch (e) {
      metrics.status(413);
      return send(res, errorResult(ids, 413, 'RequestEntityTooLarge', e instanceof Error ? e.message : String(e)), ids);
    }
    const { fixed, jitter } = config.latencyMs;
    const delay = fixed + (jitter > 0 ? Math.random() * jitter : 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));

    const auth = headerValue(req, 'authorization');
    if (!auth || !/^Bearer\s+\S+/i.test(auth)) {
      metrics.status(401);
      return send(
        res,
        errorResult(ids, 401, 'InvalidAuthenticationToken', auth ? 'CompactToken parsing failed with error code: 80049217' : 'Access token is empty.', {
          'WWW-Authenticate': 'Bearer realm=""',
        }),
        ids,
      );
    }
    let path: string;
    try {
      path = graphPath(url.pathname);
    } catch {
      metrics.status(400);
      return send(res, errorResult(ids, 400, 'BadRequest', 'The request URL is not valid.'), ids);
    }
    let body: unknown;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        metrics.status(400);
        return send(
          res,
          errorResult(ids, 400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.'),
          ids,
        );
      }
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const call: GraphCall = {
      method: (req.method ?? 'GET').toUpperCase(),
      path,
      query: url.searchParams,
      headers,
      body,
      baseUrl: `http://${req.headers.host ?? `${host}:${port}`}`,
      requestId,
      clientRequestId,
    };
    let result: GraphResult;
    if (path === '/$batch') {
      if (call.method !== 'POST') {
        metrics.status(405);
        result = errorResult(ids, 405, 'BadRequest', 'A $batch request must use POST.');
      } else {
        result = engine.batch(call);
      }
    } else {
      result = engine.execute(call);
    }
    send(res, result, ids);
  }

  function send(res: ServerResponse, result: GraphResult, ids: { requestId: string; clientRequestId: string }): void {
    if (result.reset || result.lose?.mode === 'reset') {
      res.socket?.destroy();
      return;
    }
    let out = result;
    if (result.lose) out = errorResult(ids, result.lose.status, 'generalException', 'General exception while processing');
    const headers: Record<string, string> = {
      ...out.headers,
      'request-id': ids.requestId,
      'client-request-id': ids.clientRequestId,
    };
    if (out.body === undefined) {
      delete headers['Content-Type'];
      res.writeHead(out.status, headers);
      res.end();
      return;
    }
    const payload = JSON.stringify(out.body);
    headers['Content-Type'] = headers['Content-Type'] ?? JSON_CONTENT_TYPE;
    headers['Content-Length'] = String(Buffer.byteLength(payload));
    res.writeHead(out.status, headers);
    res.end(payload);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const emulatorUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const timer = snapshotPath
    ? setInterval(() => {
        if (store.mutations !== savedAt) save().catch((e: unknown) => console.error(`graph emulator: snapshot failed: ${String(e)}`));
      }, options.snapshotIntervalMs ?? 5000)
    : undefined;
  timer?.unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (timer) clearInterval(timer);
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await stopped;
      await save();
    })();
    return closing;
  };

  return { url: emulatorUrl, port, state, close };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) reject(new Error(`The request body is larger than ${MAX_BODY_BYTES} bytes.`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/**
 * The Graph path of a request URL: without `/v1.0`. Also accepts a nextLink that a client
 * glued onto its base URL (`/v1.0/http://host/v1.0/sites/...`): the Graph JS client only
 * recognises `https://` links as absolute, and the emulator speaks plain http.
 */
export function graphPath(pathname: string): string {
  let path = decodeURIComponent(pathname);
  const strip = (p: string) => (p === '/v1.0' ? '/' : p.startsWith('/v1.0/') ? p.slice('/v1.0'.length) : p);
  path = strip(path);
  const embedded = /^\/https?:\/+[^/]+(\/.*)?$/.exec(path);
  if (embedded) path = strip(embedded[1] ?? '/');
  return path;
}
