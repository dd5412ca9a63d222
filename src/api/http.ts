import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { configError, describe, type FieldIssue, SyncError } from '../core/errors';
import { contextLogger } from '../runtime/context-logger';

/** Helpers that keep HTTP triggers thin: parse → call a use case → map the result. */

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } };
}

export function problem(status: number, title: string, detail: string, extra: { code?: string; errors?: FieldIssue[]; instance?: string } = {}): HttpResponseInit {
  return {
    status,
    jsonBody: {
      type: `https://sync.example/problems/${extra.code ?? 'error'}`,
      title,
      status,
      detail,
      ...(extra.code ? { code: extra.code } : {}),
      ...(extra.errors && extra.errors.length ? { errors: extra.errors } : {}),
      ...(extra.instance ? { instance: extra.instance } : {}),
    },
    headers: { 'content-type': 'application/problem+json; charset=utf-8' },
  };
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  412: 'Precondition failed',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable entity',
  429: 'Too many requests',
  503: 'Service unavailable',
};

/** Maps any error to problem+json. Unknown errors become 500 without leaking their text. */
export function errorResponse(error: unknown, request: HttpRequest, context: InvocationContext): HttpResponseInit {
  const instance = new URL(request.url).pathname;
  if (error instanceof SyncError) {
    if (error.status >= 500) contextLogger(context).warn('request failed', { code: error.code, error: error.message });
    const response = problem(error.status, TITLES[error.status] ?? 'Error', error.message, { code: error.code, errors: error.details, instance });
    if (error.retryAfterMs !== undefined) response.headers = { ...(response.headers as Record<string, string>), 'retry-after': String(Math.ceil(error.retryAfterMs / 1000)) };
    return response;
  }
  contextLogger(context).error('unhandled error', { error: describe(error) });
  return problem(500, 'Internal error', `The request failed; see the log entry for invocation ${context.invocationId}.`, { code: 'internal', instance });
}

/** Field details from zod issues; each unknown key gets its own path. */
export function fieldIssues(error: z.ZodError, prefix: string): FieldIssue[] {
  const join = (path: PropertyKey[]) => [prefix, ...path.map(String)].filter(Boolean).join('.') || '(root)';
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: join([...issue.path, key]), message: 'unknown field', code: 'unrecognized_key' }))
      : [{ path: join(issue.path), message: issue.message, code: issue.code }],
  );
}

/** Validates a value; failures become a 400 with field details before anything else runs. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'route'): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw configError('api', 'validation_failed', `the ${where} is invalid`, { details: fieldIssues(result.error, where === 'body' ? '' : where) });
  return result.data;
}

/**
 * The JSON body, `{}` when empty. Unlike `JSON.parse`'s own message, the error never quotes the
 * body: a malformed body may well hold a password.
 */
export async function readJson(request: HttpRequest): Promise<unknown> {
  const type = request.headers.get('content-type') ?? '';
  const text = await request.text();
  if (text.trim() === '') return {};
  if (type && !/json/i.test(type)) {
    throw new SyncError('the body must be JSON (content-type: application/json)', { code: 'unsupported_media_type', module: 'api', errorClass: 'config', status: 415 });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw configError('api', 'invalid_json', 'the body is not valid JSON');
  }
}

export function queryObject(request: HttpRequest): Record<string, string> {
  const out: Record<string, string> = {};
  request.query.forEach((value, key) => (out[key] = value));
  return out;
}

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/** Wraps a handler so every failure leaves as problem+json. */
export function withProblems(handler: Handler): Handler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      return errorResponse(error, request, context);
    }
  };
}
