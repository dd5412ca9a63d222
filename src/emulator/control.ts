/**
 * The control and inspection surface (docs/emulator.md, "Control and inspection"): the
 * in-process `EmulatorState` and the `/_emulator` HTTP endpoints that call it. They need no
 * token, cost no RU, and are never throttled, delayed or faulted.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphError } from './errors';
import { checkFaultSpec, type ActiveFault, type FaultBook, type FaultSpec } from './faults';
import { isoSeconds } from './ids';
import { itemETag, type ListState } from './list';
import type { EmulatorMetrics, MetricsRecorder } from './metrics';
import type { Store } from './store';
import type { Throttle } from './throttle';

export interface LatencyMs {
  fixed: number;
  jitter: number;
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

/** What the state reaches into. `config` is the live object: `configure` changes it in place. */
export interface EmulatorParts {
  store: Store;
  metrics: MetricsRecorder;
  faults: FaultBook;
  throttle: Throttle;
  config: EmulatorConfig;
  clock: () => number;
  /** Writes the snapshot (does nothing without a snapshot path). */
  save: () => Promise<void>;
}

export function createEmulatorState(parts: EmulatorParts): EmulatorState {
  const { store, metrics, faults, throttle, config, clock, save } = parts;
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
        eTag: itemETag(item),
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
  return state;
}

/** Answers one request under `/_emulator`; `text` is its body. */
export async function serveControl(
  state: EmulatorState,
  emulatorUrl: string,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  text: string,
): Promise<void> {
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
        await state.save();
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

/** A refused control request, answered with its own status. */
export class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function checkBudget(budget: number): number {
  if (typeof budget !== 'number' || !Number.isFinite(budget) || budget < 1) {
    throw new ControlError(400, 'budgetRuPerMinute must be a number of at least 1.');
  }
  return budget;
}

export function checkLatency(latency: unknown): LatencyMs {
  const l = latency as Partial<LatencyMs> | null;
  const fixed = l?.fixed ?? 0;
  const jitter = l?.jitter ?? 0;
  if (typeof fixed !== 'number' || typeof jitter !== 'number' || fixed < 0 || jitter < 0 || !Number.isFinite(fixed + jitter)) {
    throw new ControlError(400, 'latencyMs must be { fixed, jitter } with non-negative numbers of milliseconds.');
  }
  return { fixed, jitter };
}
