import { isoSeconds } from './ids';

/**
 * An error that becomes a Graph error body:
 * `{ error: { code, message, innerError: { date, request-id, client-request-id } } }`
 * (learn.microsoft.com/graph/errors).
 */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GraphError';
  }
}

export interface GraphErrorBody {
  error: {
    code: string;
    message: string;
    innerError: { date: string; 'request-id': string; 'client-request-id': string };
  };
}

export function graphErrorBody(code: string, message: string, requestId: string, clientRequestId: string): GraphErrorBody {
  return {
    error: {
      code,
      message,
      innerError: { date: isoSeconds(Date.now()), 'request-id': requestId, 'client-request-id': clientRequestId },
    },
  };
}

export const invalidRequest = (message: string): GraphError => new GraphError(400, 'invalidRequest', message);
export const badRequest = (message: string): GraphError => new GraphError(400, 'BadRequest', message);
export const itemNotFound = (message = 'The resource could not be found.'): GraphError =>
  new GraphError(404, 'itemNotFound', message);
export const nameAlreadyExists = (message: string): GraphError => new GraphError(409, 'nameAlreadyExists', message);
