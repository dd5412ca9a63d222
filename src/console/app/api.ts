import type { components, operations } from './api-types';

/**
 * The console's API client: typed by operation from the generated OpenAPI types, relative to
 * the page (served at /api/console/, so the API is `../`), authenticated with the function key
 * the admin entered, or by the App Service Authentication cookie when Entra ID is on.
 */

type Content<R> = R extends { content: { 'application/json': infer Body } } ? Body : never;
type Responses<K extends keyof operations> = operations[K]['responses'];
/** The JSON body of an operation's success response. */
export type Ok<K extends keyof operations> = Content<Responses<K>[200 & keyof Responses<K>]> | Content<Responses<K>[201 & keyof Responses<K>]> | Content<Responses<K>[202 & keyof Responses<K>]>;
/** The JSON body an operation accepts. */
export type Body<K extends keyof operations> = operations[K] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
export type Problem = components['schemas']['Problem'];

export type Definition = Ok<'definitionsGet'>;
export type Run = Ok<'runsGet'>;
export type TableDescription = Ok<'sourcesTable'>;
export type DefinitionInput = Body<'definitionsCreate'>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem>,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }

  /** The message and each offending field, as one line per issue for the page to show. */
  describe(): string[] {
    return [this.message, ...(this.problem.errors ?? []).map((e) => `${e.path || '(body)'}: ${e.message}`)];
  }
}

export interface ApiClient {
  call<K extends keyof operations>(operation: K, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: Body<K>): Promise<Ok<K>>;
}

export function apiClient(baseUrl: string, functionKey: () => string | null, onUnauthorised: () => void): ApiClient {
  return {
    async call(_operation, method, path, body) {
      const headers: Record<string, string> = { accept: 'application/json' };
      const key = functionKey();
      if (key) headers['x-functions-key'] = key;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(new URL(path, baseUrl), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
      const text = await response.text();
      const parsed: unknown = text ? JSON.parse(text) : undefined;
      if (!response.ok) {
        if (response.status === 401) onUnauthorised();
        throw new ApiError(response.status, (parsed ?? {}) as Partial<Problem>);
      }
      return parsed as never;
    },
  };
}

/** `/api/` from wherever the console is served (`/api/console/`). */
export function apiBaseUrl(location: Location): string {
  return new URL('../', new URL(location.pathname.replace(/[^/]*$/, ''), location.origin)).toString();
}
