import { randomBytes } from 'node:crypto';
import { HttpRequest, InvocationContext } from '@azure/functions';
import pg from 'pg';
import { EnvSecrets } from '../../../src/adapters/secrets/env';
import { createSourceDatabase, defaultSourceCache } from '../../../src/adapters/source';
import { notFound } from '../../../src/core/errors';
import { clearTenantLimiters } from '../../../src/adapters/sharepoint/limiter';
import { createServices, type Services } from '../../../src/composition';
import { loadConfig } from '../../../src/config';
import type { MessageBus, OutgoingMessage, QueueName } from '../../../src/core/ports/bus';
import type { Secrets } from '../../../src/core/ports/secrets';
import type { StateStore } from '../../../src/core/ports/state';
import { startGraphEmulator, type GraphEmulator } from '../../../src/emulator';
import { apiFunctions } from '../../../src/functions/api';
import { Router } from '../../../src/local/router';

/**
 * The management API as an admin meets it, with real parts behind it: Table Storage on
 * Azurite (a table prefix of its own per test file), PostgreSQL (a schema of its own), and the
 * Graph emulator in process. Requests are real `HttpRequest`s routed by the local host's router
 * to the real handlers, each with a real `InvocationContext`.
 *
 * Two parts are stand-ins, for reasons: the bus records what is sent (the queue names are fixed,
 * so real Azurite queues would hand our run messages to other suites' pumps), and with
 * ALLOW_SECRET_WRITE the secrets port is in memory (Key Vault has no emulator).
 */

export const PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const FUNCTION_KEY = 'api-test-function-key';

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON body, undefined when there is none. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The body as sent, for secret-leak checks. */
  text: string;
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is (malformed JSON, other media types). */
  rawBody?: string;
  headers?: Record<string, string>;
}

/** Secrets written through the API stay in memory; every other reference resolves from env as locally. */
export class MemorySecrets implements Secrets {
  readonly written = new Map<string, string>();
  private readonly env = new EnvSecrets();

  async get(secretRef: string): Promise<string> {
    return this.written.get(secretRef) ?? this.env.get(secretRef);
  }

  async set(name: string, value: string): Promise<string> {
    this.written.set(name, value);
    return name;
  }
}

export class RecordingBus implements MessageBus {
  readonly sent: Array<{ queue: QueueName; message: OutgoingMessage }> = [];
  async send(queue: QueueName, messages: OutgoingMessage[]): Promise<void> {
    for (const message of messages) this.sent.push({ queue, message });
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface ApiHarness {
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>;
  /** Every response (status line, headers, body) and every log line so far. */
  transcript: string[];
  emulator: GraphEmulator;
  siteId: string;
  bus: RecordingBus;
  secrets: MemorySecrets;
  /** A schema of this file's own in the test database. */
  schema: string;
  sql(text: string, values?: unknown[]): Promise<pg.QueryResult>;
  state(): Promise<StateStore>;
  /** The services the API's handlers are wired to now. */
  services(): Services;
  /** Rebuilds the services (and the handlers wired to them) with other settings (same table prefix, same emulator). */
  configure(settings: { allowSecretWrite?: boolean; entraRoles?: boolean }): void;
  close(): Promise<void>;
}

export const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export interface HarnessOptions {
  /** The state store behind the API: Table Storage on Azurite (default) or PostgreSQL (a schema of its own). */
  stateStore?: 'table' | 'postgres';
}

export async function startApiHarness(name: string, options: HarnessOptions = {}): Promise<ApiHarness> {
  const storage = process.env.TEST_STORAGE_CONNECTION;
  if (!storage) throw new Error('TEST_STORAGE_CONNECTION is not set: run the tests through jest (its global setup starts Azurite)');
  const suffix = randomBytes(4).toString('hex');
  const prefix = `api${name}${suffix}`.slice(0, 30);
  const schema = `api_${name}_${suffix}`;
  const stateSchema = `${schema}_state`.toLowerCase();
  // EnvSecrets maps the reference `pg-test` to SECRET_PG_TEST; a full postgres URL is accepted as the secret.
  process.env.SECRET_PG_TEST = PG_URL;

  const emulator = await startGraphEmulator({ port: 0, budgetRuPerMinute: 600_000 });
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${quote(schema)}`);

  const bus = new RecordingBus();
  const secrets = new MemorySecrets();
  const transcript: string[] = [];
  let current: Services;
  let router: Router;

  const configure = (settings: { allowSecretWrite?: boolean; entraRoles?: boolean } = {}) => {
    const cfg = loadConfig({
      AzureWebJobsStorage: storage,
      QUEUE_TRANSPORT: 'storage',
      STATE_TABLE_PREFIX: prefix,
      ...(options.stateStore === 'postgres' ? { STATE_STORE: 'postgres', STATE_SQL_URL: PG_URL, STATE_SQL_SCHEMA: stateSchema } : {}),
      GRAPH_BASE_URL: emulator.url,
      GRAPH_STATIC_TOKEN: 'emulator-token',
      GRAPH_BUDGET_RU_PER_MINUTE: '600000',
      LOCAL_FUNCTION_KEY: FUNCTION_KEY,
      ...(settings.allowSecretWrite ? { ALLOW_SECRET_WRITE: 'true', KEY_VAULT_URI: 'https://api-tests.vault.azure.net' } : {}),
      ...(settings.entraRoles ? { API_ENTRA_ROLES: 'true' } : {}),
    });
    const base = createServices(cfg);
    const previous = current;
    // Keep one state store per file: it is initialised once and closed at the end.
    const state = previous ? previous.state : base.state;
    current = {
      ...base,
      bus: () => bus,
      secrets: () => secrets,
      state,
      // As the composition root does, but reading secrets through the stand-in above.
      async source(connectionId) {
        const conn = await (await state()).getSource(connectionId);
        if (!conn) throw notFound('sources', 'source connection', connectionId);
        const { etag: _e, createdAt: _c, updatedAt: _u, ...record } = conn;
        return createSourceDatabase(record, secrets);
      },
    };
    router = new Router(apiFunctions(current));
  };
  configure();

  const call = async (method: string, path: string, options: CallOptions = {}): Promise<ApiResponse> => {
    const url = new URL(`http://localhost:7071/api${path}`);
    const match = router.match(method, url.pathname.slice('/api'.length));
    if (!match || !('fn' in match)) throw new Error(`no route for ${method} ${path}`);
    const text = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const headers = { ...(text !== undefined && options.rawBody === undefined ? { 'content-type': 'application/json' } : {}), ...options.headers };
    const request = new HttpRequest({ method, url: url.toString(), headers, params: match.params, ...(text !== undefined ? { body: { string: text } } : {}) });
    const context = new InvocationContext({ functionName: match.fn.name, logHandler: (level, ...args) => transcript.push(`log ${level} ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`) });
    const response = await match.fn.handler(request, context);
    const responseHeaders = new Headers(response.headers as Record<string, string> | undefined);
    const body = response.jsonBody ?? (typeof response.body === 'string' ? JSON.parse(response.body) : undefined);
    const bodyText = body === undefined ? '' : JSON.stringify(body);
    transcript.push(`${method} ${path} → ${response.status ?? 200} ${JSON.stringify([...responseHeaders])} ${bodyText}`);
    return { status: response.status ?? 200, headers: responseHeaders, body, text: bodyText };
  };

  return {
    call,
    transcript,
    emulator,
    siteId: emulator.state.defaultSiteId,
    bus,
    secrets,
    schema,
    sql: (text, values) => admin.query(text, values),
    state: () => current.state(),
    services: () => current,
    configure,
    async close() {
      clearTenantLimiters();
      await defaultSourceCache.closeAll();
      await (await current.state()).close();
      await admin.query(`DROP SCHEMA IF EXISTS ${quote(schema)} CASCADE`);
      await admin.query(`DROP SCHEMA IF EXISTS ${quote(stateSchema)} CASCADE`);
      await admin.end();
      await emulator.close();
    },
  };
}

/** The path and code of each field detail of a problem response. */
export function fieldPaths(response: ApiResponse): string[] {
  return ((response.body?.errors ?? []) as Array<{ path: string }>).map((e) => e.path);
}

export function expectProblem(response: ApiResponse, status: number): void {
  expect({ status: response.status, type: response.headers.get('content-type') }).toEqual({ status, type: expect.stringContaining('application/problem+json') });
  expect(response.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
}

/** A source connection body pointing at the test database through the secret `pg-test`. */
export function pgSource(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const url = new URL(PG_URL);
  return {
    id,
    engine: 'postgres',
    host: url.hostname,
    port: Number(url.port || 5432),
    database: decodeURIComponent(url.pathname.slice(1)),
    user: decodeURIComponent(url.username) || 'postgres',
    secretRef: 'pg-test',
    tls: { enabled: false },
    ...extra,
  };
}

export function spConnection(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, tenantId: `tenant-${id}`, clientId: 'client-1', auth: { kind: 'managedIdentity' }, ...extra };
}
