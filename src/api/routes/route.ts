import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import type { Logger } from '../../core/ports/logger';
import { contextLogger } from '../../runtime/context-logger';
import type { HttpFunction, HttpMethod } from '../../runtime/function-table';
import type { AdminDeps } from '../../sync/definitions-admin';
import { parseInput as parse, queryObject, readJson, withProblems } from '../http';
import { authorise } from '../principal';

/**
 * One declaration per endpoint: method, route, the zod schemas of its route parameters, query
 * and body, and its responses. The same declaration validates every request before the handler
 * runs and generates the OpenAPI document, so the two cannot drift apart. Declarations hold no
 * collaborators: `bindApiRoute` turns one into an HTTP function with what the composition root
 * handed over (`ApiWiring`).
 */

/** What the composition root hands the management API. */
export interface ApiWiring {
  /** The product version, shown in the OpenAPI document. */
  version: string;
  /** API_ENTRA_ROLES: every non-anonymous route checks the caller's Entra ID app roles. */
  entraRoles: boolean;
  /** The admin use cases' collaborators for one invocation. */
  adminDeps(log: Logger): Promise<AdminDeps>;
}

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

/** What a bound route has at hand besides its request. */
export interface RouteBinding {
  wiring: ApiWiring;
  /** The OpenAPI document of the routes this one is served with (built on first request). */
  openApiDocument(): Record<string, unknown>;
}

/** An endpoint that describes itself for OpenAPI and serves requests once bound. */
export interface ApiRoute extends Pick<HttpFunction, 'name' | 'methods' | 'route' | 'authLevel'> {
  doc: RouteDoc;
  /** Checks roles and validates the request, then runs the endpoint. */
  serve(request: HttpRequest, context: InvocationContext, binding: RouteBinding): Promise<HttpResponseInit>;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  request: HttpRequest;
  context: InvocationContext;
  /** The admin use cases' collaborators for this invocation (the state store connects on first use). */
  adminDeps(): Promise<AdminDeps>;
  openApiDocument(): Record<string, unknown>;
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

/** Declares an endpoint; every endpoint may answer 400 (validation), 500 and 503 besides its own errors. */
export function apiRoute<P extends z.ZodType = None, Q extends z.ZodType = None, B extends z.ZodType = None>(spec: RouteSpec<P, Q, B>): ApiRoute {
  const errors = [...new Set([...(spec.errors ?? []), 400, 500, 503])].sort();
  const authLevel = spec.authLevel ?? 'function';
  return {
    name: spec.name,
    methods: [spec.method],
    route: spec.route,
    authLevel,
    doc: { summary: spec.summary, description: spec.description, tag: spec.tag, params: spec.params, query: spec.query, body: spec.body, responses: spec.responses, errors },
    async serve(request, context, { wiring, openApiDocument }) {
      if (authLevel !== 'anonymous') authorise(request, wiring.entraRoles);
      // Route and query first: a bad id is reported before the body is even read.
      const params = parse(spec.params ?? none, request.params ?? {}, 'route') as z.output<P>;
      const query = parse(spec.query ?? none, queryObject(request), 'query') as z.output<Q>;
      const body = (spec.body ? parse(spec.body, await readJson(request), 'body') : undefined) as z.output<B>;
      const adminDeps = () => wiring.adminDeps(contextLogger(context));
      return spec.handle({ params, query, body, request, context, adminDeps, openApiDocument });
    },
  };
}

/** The route as an HTTP function of the table; every failure leaves as problem+json. */
export function bindApiRoute(route: ApiRoute, binding: RouteBinding): HttpFunction {
  return {
    kind: 'http',
    name: route.name,
    methods: route.methods,
    route: route.route,
    authLevel: route.authLevel,
    handler: withProblems((request, context) => route.serve(request, context, binding)),
  };
}
