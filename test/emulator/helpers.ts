import { Client } from '@microsoft/microsoft-graph-client';
import { startGraphEmulator, type GraphEmulator, type GraphEmulatorOptions } from '../../src/emulator';

export const TOKEN = 'emulator-test-token';

export async function startEmulator(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
  // A large budget unless the test is about throttling.
  return startGraphEmulator({ budgetRuPerMinute: 1_000_000, ...options });
}

/**
 * The real Graph client pointed at the emulator. Its auth middleware only adds the token for
 * https Graph hosts, so the token goes in as a lower-case default header (the middleware
 * strips only `Authorization` spelt with capitals from non-Graph requests).
 */
export function graphClient(emulator: GraphEmulator): Client {
  return Client.init({
    baseUrl: emulator.url,
    authProvider: (done) => done(null, TOKEN),
    fetchOptions: { headers: { authorization: `Bearer ${TOKEN}` } },
  });
}

export interface RawResponse {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** A plain HTTP call, for the raw protocol (status codes, headers, error bodies). */
export async function raw(
  emulator: GraphEmulator,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const url = path.startsWith('http') ? path : `${emulator.url}${path.startsWith('/_emulator') ? '' : '/v1.0'}${path}`;
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

export const SYNC_KEY_COLUMN = { name: 'SyncKey', text: { maxLength: 255 }, indexed: true, enforceUniqueValues: true, hidden: true };

/** Creates a list on the default site and returns its id. */
export async function createList(
  emulator: GraphEmulator,
  displayName: string,
  columns: unknown[] = [SYNC_KEY_COLUMN],
): Promise<string> {
  const res = await raw(emulator, 'POST', `/sites/${emulator.state.defaultSiteId}/lists`, {
    displayName,
    columns,
    list: { template: 'genericList' },
  });
  if (res.status !== 201) throw new Error(`list create failed: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json.id as string;
}

export function itemsPath(emulator: GraphEmulator, list: string): string {
  return `/sites/${emulator.state.defaultSiteId}/lists/${list}/items`;
}

export interface EmulatorWithList {
  readonly emulator: GraphEmulator;
  /** The list's id, made afresh for each test. */
  readonly list: string;
  /** The path of the list's items, as `raw` and the Graph client take it. */
  readonly items: string;
}

/**
 * For the describe block that calls it: one emulator, closed after the block; before each test
 * its state is reset and a list `displayName` with `columns` is made on the default site.
 */
export function useEmulatorWithList(displayName: string, columns?: unknown[]): EmulatorWithList {
  const fixture = {} as { emulator: GraphEmulator; list: string; items: string };
  beforeAll(async () => {
    fixture.emulator = await startEmulator();
  });
  afterAll(() => fixture.emulator.close());
  beforeEach(async () => {
    fixture.emulator.state.reset();
    fixture.list = await createList(fixture.emulator, displayName, columns);
    fixture.items = itemsPath(fixture.emulator, fixture.list);
  });
  return fixture;
}

/** A Graph client error's status and Graph error code. */
export async function graphFailure(promise: Promise<unknown>): Promise<{ statusCode: number; code: string; message: string }> {
  try {
    await promise;
  } catch (e) {
    const err = e as { statusCode: number; code: string; message: string };
    return { statusCode: err.statusCode, code: err.code, message: err.message };
  }
  throw new Error('expected the request to fail');
}
