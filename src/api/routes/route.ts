import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { contextLogger } from '../../runtime/context-logger';
import type { HttpFunction, HttpMethod } from '../../runtime/function-table';
import { services, syncDeps } from '../../composition';
import type { AdminDeps } from '../../sync/definitions-admin';
import { parseInput as parse, queryObject, readJson, withProblems } from '../http';
import { authorise } from '../principal';

/**
 * One declaration per endpoint: method, route, the zod schemas of its route parameters, query
 * and body, and its responses. The same declaration validates every request before the handler
 * runs and generates the OpenAPI document, so the two cannot drift apart.
 */

export interface ResponseDoc {
  description: string;
  /** JSON body schema (documentation only: responses are built by our own code). */
  schema?: z.ZodType;
  headers?: string[];
}

export interface RouteDoc {
  summary: string;
  description?: string;
  tag: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Success responses by status. */
  responses: Record<number, ResponseDoc>;
  /** Error statuses this endpoint may answer with (problem+json). */
  errors: number[];
}

/** An HTTP function that also describes itself for OpenAPI. */
export interface ApiRoute extends HttpFunction {
  doc: RouteDoc;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  request: HttpRequest;
  context: InvocationContext;
}

const none = z.object({});
type None = typeof none;

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  name: string;
  method: HttpMethod;
  /** Functions route template under `/api`. */
  route: string;
  authLevel?: HttpFunction['authLevel'];
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, ResponseDoc>;
  errors?: number[];
  handle(input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<HttpResponseInit>;
}

/**
 * zod's `unrecognized_keys` issue sits on the parent object; an admin wants the unknown field
 * itself named, so each key becomes its own detail.
 */
export function apiRoute<P extends z.ZodType = None, Q extends z.ZodType = None, B extends z.ZodType = None>(spec: RouteSpec<P, Q, B>): ApiRoute {
  const errors = [...new Set([...(spec.errors ?? []), 400, 500, 503])].sort();
  return {
    kind: 'http',
    name: spec.name,
    methods: [spec.method],
    route: spec.route,
    authLevel: spec.authLevel ?? 'function',
    doc: { summary: spec.summary, description: spec.description, tag: spec.tag, params: spec.params, query: spec.query, body: spec.body, responses: spec.responses, errors },
    handler: withProblems(async (request, context) => {
      if ((spec.authLevel ?? 'function') !== 'anonymous') authorise(request, services().config.API_ENTRA_ROLES);
      // Route and query first: a bad id is reported before the body is even read.
      const params = parse(spec.params ?? none, request.params ?? {}, 'route') as z.output<P>;
      const query = parse(spec.query ?? none, queryObject(request), 'query') as z.output<Q>;
      const body = (spec.body ? parse(spec.body, await readJson(request), 'body') : undefined) as z.output<B>;
      return spec.handle({ params, query, body, request, context });
    }),
  };
}

/** The admin use cases' collaborators for one invocation. */
export async function adminDeps(context: InvocationContext): Promise<AdminDeps> {
  const s = services();
  return { ...(await syncDeps(contextLogger(context), s)), secrets: s.secrets(), allowSecretWrite: s.config.ALLOW_SECRET_WRITE };
}
