/**
 * The emulator's HTTP server: Graph routes under `/v1.0` (or without it), `/$batch`, and the
 * control / inspection endpoints under `/_emulator` (no auth, no RU, no latency, no faults).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { GraphError } from './errors';
import { checkFaultSpec, FaultBook, type ActiveFault, type FaultSpec } from './faults';
import { errorResult, GraphEngine, JSON_CONTENT_TYPE, type GraphCall, type GraphResult } from './graph';
import { isoSeconds, newGuid } from './ids';
import { MetricsRecorder, type EmulatorMetrics } from './metrics';
import { DEFAULT_SITES, LIST_VIEW_THRESHOLD, Store, type ListState, type SiteSpec, type SnapshotFile } from './store';
import { Throttle } from './throttle';

export interface LatencyMs {
  fixed: number;
  jitter: number;
}

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

export interface EmulatorConfig {
  budgetRuPerMinute: number;
  latencyMs: LatencyMs;
  listViewThreshold: number;
}

export interface ListSummary {
  siteId: string;
  id: string;
  displayName: string;
  itemCount: number;
  columns: Array<{ name: string; type: string; indexed: boolean; enforceUniqueValues: boolean; hidden: boolean }>;
}

export interface ItemSnapshot {
  id: string;
  eTag: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  /** Title and custom fields with values. */
  fields: Record<string, string | number | boolean>;
}

/** The in-process handle tests and the benchmark use; the control endpoints call the same. */
export interface EmulatorState {
  readonly defaultSiteId: string;
  reset(): void;
  metrics(): EmulatorMetrics;
  resetMetrics(): void;
  injectFault(spec: FaultSpec | FaultSpec[]): ActiveFault[];
  faults(): ActiveFault[];
  clearFaults(): void;
  config(): EmulatorConfig;
  configure(change: Partial<Pick<EmulatorConfig, 'budgetRuPerMinute' | 'latencyMs'>>): EmulatorConfig;
  lists(): ListSummary[];
  /** Every item of a list (id or display name), without paging or RU charge. */
  items(list: string): ItemSnapshot[];
  /** Creates items directly (validated like Graph creates, no RU, no faults); returns their ids. */
  seedItems(list: string, fields: Array<Record<string, unknown>>): string[];
  /** Expires the delta tokens of one list, or of every list. */
  expireDeltaTokens(list?: string): void;
  /** Writes the snapshot now (no-op without snapshotPath). */
  save(): Promise<void>;
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
  if (snapshotPath) await loadSnapshot(store, snapshotPath);
  const throttle = new Throttle(config.budgetRuPerMinute);
  const faults = new FaultBook();
  const metrics = new MetricsRecorder(clock);
  const engine = new GraphEngine({ store, throttle, faults, metrics, clock, listViewThreshold: config.listViewThreshold });

  let savedAt = store.mutations;
  const save = async (): Promise<void> => {
    if (!snapshotPath) return;
    const mutations = store.mutations;
    await mkdir(dirname(snapshotPath), { recursive: true });
    const tmp = `${snapshotPath}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(store.toSnapshot()));
    await rename(tmp, snapshotPath);
    savedAt = mutations;
  };

  const findList = (ref: string): ListState => {
    const list = store.findListAnywhere(ref);
    if (!list) throw new ControlError(404, `No list '${ref}'.`);
    return list;
  };

  const state: EmulatorState = {
    get defaultSiteId() {
      return store.defaultSite.id;
    },
    reset() {
      store.reset();
      metrics.reset();
      faults.clear();
      throttle.window.clear();
    },
    metrics: () => metrics.snapshot(throttle.window.used(clock()), config.budgetRuPerMinute),
    resetMetrics: () => metrics.reset(),
    injectFault(spec) {
      const specs = Array.isArray(spec) ? spec : [spec];
      for (const s of specs) {
        const problem = checkFaultSpec(s);
        if (problem) throw new ControlError(400, `Invalid fault: ${problem}.`);
      }
      return specs.map((s) => faults.add(s));
    },
    faults: () => faults.list(),
    clearFaults: () => faults.clear(),
    config: () => ({ ...config, latencyMs: { ...config.latencyMs } }),
    configure(change) {
      if (change.budgetRuPerMinute !== undefined) {
        config.budgetRuPerMinute = checkBudget(change.budgetRuPerMinute);
        throttle.budget = config.budgetRuPerMinute;
      }
      if (change.latencyMs !== undefined) config.latencyMs = checkLatency(change.latencyMs);
      return state.config();
    },
    lists: () =>
      [...store.sites.values()].flatMap((site) =>
        [...site.lists.values()].map((l) => ({
          siteId: site.id,
          id: l.id,
          displayName: l.displayName,
          itemCount: l.items.size,
          columns: l.columns
            .filter((c) => !c.builtIn || c.name === 'Title')
            .map((c) => ({ name: c.name, type: c.kind, indexed: c.indexed, enforceUniqueValues: c.enforceUniqueValues, hidden: c.hidden })),
        })),
      ),
    items(ref) {
      const list = findList(ref);
      return [...list.items.values()].map((item) => ({
        id: String(item.id),
        eTag: `"${item.guid},${item.version}"`,
        createdDateTime: isoSeconds(item.created),
        lastModifiedDateTime: isoSeconds(item.modified),
        fields: Object.fromEntries([...item.fields].filter((e): e is [string, string | number | boolean] => e[1] !== null)),
      }));
    },
    seedItems(ref, rows) {
      const list = findList(ref);
      const ids = rows.map((fields) => String(list.createItem(fields, clock()).id));
      store.mutations++;
      return ids;
    },
    expireDeltaTokens(ref) {
      if (ref !== undefined) findList(ref).expireDeltaTokens();
      else for (const site of store.sites.values()) for (const l of site.lists.values()) l.expireDeltaTokens();
    },
    save,
  };

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
      return control(req, res, url, body);
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

  async function control(req: IncomingMessage, res: ServerResponse, url: URL, text: string): Promise<void> {
    const reply = (status: number, body?: unknown) => {
      if (body === undefined) {
        res.writeHead(status);
        res.end();
        return;
      }
      const payload = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) });
      res.end(payload);
    };
    try {
      let body: unknown;
      if (text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new ControlError(400, 'The body is not valid JSON.');
        }
      }
      const method = (req.method ?? 'GET').toUpperCase();
      const parts = url.pathname.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
      const route = `${method} /${parts.map((p, i) => (parts[0] === 'lists' && i === 1 ? ':list' : p)).join('/')}`;
      switch (route) {
        case 'GET /':
          return reply(200, { url: emulatorUrl, defaultSiteId: state.defaultSiteId, config: state.config() });
        case 'GET /metrics':
          return reply(200, state.metrics());
        case 'POST /metrics/reset':
          state.resetMetrics();
          return reply(200, state.metrics());
        case 'GET /faults':
          return reply(200, { value: state.faults() });
        case 'POST /faults':
          return reply(201, { value: state.injectFault(body as FaultSpec | FaultSpec[]) });
        case 'DELETE /faults':
          state.clearFaults();
          return reply(204);
        case 'GET /lists':
          return reply(200, { value: state.lists() });
        case 'GET /lists/:list/items':
          return reply(200, { value: state.items(parts[1] as string) });
        case 'POST /lists/:list/expire-delta':
          state.expireDeltaTokens(parts[1] as string);
          return reply(204);
        case 'POST /reset':
          state.reset();
          return reply(204);
        case 'GET /config':
          return reply(200, state.config());
        case 'PUT /config':
        case 'PATCH /config': {
          if (typeof body !== 'object' || body === null) throw new ControlError(400, 'Send { budgetRuPerMinute?, latencyMs? }.');
          return reply(200, state.configure(body as Partial<EmulatorConfig>));
        }
        case 'POST /snapshot':
          await save();
          return reply(204);
        default:
          throw new ControlError(404, `No control endpoint ${method} ${url.pathname}.`);
      }
    } catch (e) {
      const status = e instanceof ControlError ? e.status : e instanceof GraphError ? e.status : 500;
      const code = e instanceof GraphError ? e.code : 'badControlRequest';
      reply(status, { error: { code, message: e instanceof Error ? e.message : String(e) } });
    }
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

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function checkBudget(budget: number): number {
  if (typeof budget !== 'number' || !Number.isFinite(budget) || budget < 1) {
    throw new ControlError(400, 'budgetRuPerMinute must be a number of at least 1.');
  }
  return budget;
}

function checkLatency(latency: unknown): LatencyMs {
  const l = latency as Partial<LatencyMs> | null;
  const fixed = l?.fixed ?? 0;
  const jitter = l?.jitter ?? 0;
  if (typeof fixed !== 'number' || typeof jitter !== 'number' || fixed < 0 || jitter < 0 || !Number.isFinite(fixed + jitter)) {
    throw new ControlError(400, 'latencyMs must be { fixed, jitter } with non-negative numbers of milliseconds.');
  }
  return { fixed, jitter };
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

async function loadSnapshot(store: Store, path: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    store.loadSnapshot(JSON.parse(text) as SnapshotFile);
  } catch (e) {
    throw new Error(`Cannot load the Graph emulator snapshot ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
