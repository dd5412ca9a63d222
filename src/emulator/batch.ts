/**
 * `POST /$batch` (learn.microsoft.com/graph/json-batching): at most 20 inner requests, each run
 * through the same entry point as a single request, `dependsOn` honoured, one 200 envelope.
 */
import {
  errorResult,
  injectedAnswer,
  JSON_CONTENT_TYPE,
  lostAnswer,
  resultOfError,
  type GraphCall,
  type GraphResult,
} from './call';
import { badRequest } from './errors';
import type { FaultBook } from './faults';
import { newGuid } from './ids';
import type { MetricsRecorder } from './metrics';

export const MAX_BATCH_REQUESTS = 20;

export interface BatchDeps {
  faults: FaultBook;
  metrics: MetricsRecorder;
  /** Runs one inner request as a single Graph request: routing, RU, throttling and faults included. */
  execute(call: GraphCall): GraphResult;
}

interface BatchRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  dependsOn: string[];
}

const BATCH_METHODS = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'];

export function runBatch(call: GraphCall, deps: BatchDeps): GraphResult {
  deps.metrics.batches++;
  const envelopeFault = deps.faults.take({ op: 'batch', envelope: true });
  if (envelopeFault) {
    deps.metrics.faultsInjected++;
    const answer = injectedAnswer(envelopeFault, call);
    if (answer) return answer;
  }
  let requests: BatchRequest[];
  try {
    requests = parseBatch(call.body);
  } catch (e) {
    return resultOfError(e, call);
  }

  const results = new Map<string, GraphResult>();
  let lose: GraphResult['lose'];
  const byId = new Map(requests.map((r) => [r.id, r]));
  const run = (r: BatchRequest): GraphResult | 'reset' => {
    const done = results.get(r.id);
    if (done) return done;
    for (const dep of r.dependsOn) {
      const depResult = run(byId.get(dep) as BatchRequest);
      if (depResult === 'reset') return 'reset';
    }
    const failed = r.dependsOn.find((dep) => (results.get(dep)?.status ?? 0) >= 400);
    let result: GraphResult;
    if (failed !== undefined) {
      result = errorResult(call, 424, 'failedDependency', `Request ${r.id} was not run because request ${failed}, which it depends on, failed.`);
      deps.metrics.status(424);
    } else {
      result = deps.execute(innerCall(call, r));
      if (result.reset) return 'reset';
      if (result.lose && !lose) lose = result.lose;
    }
    results.set(r.id, result);
    return result;
  };
  for (const r of requests) {
    if (run(r) === 'reset') return { status: 0, headers: {}, reset: true };
  }

  const responses = requests.map((r) => {
    const res = results.get(r.id) as GraphResult;
    const out: Record<string, unknown> = {
      id: r.id,
      status: res.status,
      headers: res.body === undefined ? { ...res.headers } : { 'Content-Type': 'application/json', ...res.headers },
    };
    if (res.body !== undefined) out.body = res.body;
    return out;
  });
  const result: GraphResult = { status: 200, headers: { 'Content-Type': JSON_CONTENT_TYPE }, body: { responses } };
  if (envelopeFault?.kind === 'appliedButLost') lose = lostAnswer(envelopeFault);
  if (lose) result.lose = lose;
  return result;
}

function parseBatch(body: unknown): BatchRequest[] {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { requests?: unknown }).requests)) {
    throw badRequest("Invalid batch payload format: the body needs a 'requests' array.");
  }
  const raw = (body as { requests: unknown[] }).requests;
  if (raw.length === 0) throw badRequest('Invalid batch payload format: the batch has no requests.');
  if (raw.length > MAX_BATCH_REQUESTS) {
    throw badRequest(`The batch holds ${raw.length} requests; a batch can hold at most ${MAX_BATCH_REQUESTS}.`);
  }
  const seen = new Set<string>();
  const requests = raw.map((r, index): BatchRequest => {
    if (typeof r !== 'object' || r === null) throw badRequest(`Batch request ${index} is not an object.`);
    const o = r as Record<string, unknown>;
    if (typeof o.id !== 'string' || o.id === '') throw badRequest(`Batch request ${index} needs a string 'id'.`);
    if (seen.has(o.id)) throw badRequest(`Batch request id '${o.id}' is used twice.`);
    seen.add(o.id);
    const method = typeof o.method === 'string' ? o.method.toUpperCase() : '';
    if (!BATCH_METHODS.includes(method)) throw badRequest(`Batch request '${o.id}' has an invalid method.`);
    if (typeof o.url !== 'string' || o.url === '') throw badRequest(`Batch request '${o.id}' needs a 'url'.`);
    if (/^[a-z]+:\/\//i.test(o.url)) throw badRequest(`Batch request '${o.id}' must use a relative url, not '${o.url}'.`);
    const headers: Record<string, string> = {};
    if (o.headers !== undefined && o.headers !== null) {
      if (typeof o.headers !== 'object') throw badRequest(`Batch request '${o.id}' has invalid headers.`);
      for (const [k, v] of Object.entries(o.headers as Record<string, unknown>)) headers[k.toLowerCase()] = String(v);
    }
    if (o.body !== undefined && o.body !== null && !headers['content-type']) {
      throw badRequest(`Write request id : ${o.id} does not contain Content-Type header or body.`);
    }
    let dependsOn: string[] = [];
    if (o.dependsOn !== undefined) {
      if (!Array.isArray(o.dependsOn) || !o.dependsOn.every((d) => typeof d === 'string')) {
        throw badRequest(`dependsOn of batch request '${o.id}' must be an array of request ids.`);
      }
      dependsOn = o.dependsOn as string[];
    }
    let requestBody = o.body ?? undefined;
    if (typeof requestBody === 'string' && (headers['content-type'] ?? '').includes('json')) {
      try {
        requestBody = JSON.parse(requestBody);
      } catch {
        throw badRequest(`The body of batch request '${o.id}' is not valid JSON.`);
      }
    }
    return { id: o.id, method, url: o.url, headers, body: requestBody, dependsOn };
  });
  const byId = new Map(requests.map((r) => [r.id, r]));
  for (const r of requests) {
    for (const dep of r.dependsOn) {
      if (!byId.has(dep)) throw badRequest(`Batch request '${r.id}' depends on '${dep}', which is not in the batch.`);
    }
  }
  // Refuse dependency cycles.
  const state = new Map<string, 1 | 2>();
  const visit = (r: BatchRequest): void => {
    if (state.get(r.id) === 2) return;
    if (state.get(r.id) === 1) throw badRequest(`The dependsOn of batch request '${r.id}' forms a cycle.`);
    state.set(r.id, 1);
    for (const dep of r.dependsOn) visit(byId.get(dep) as BatchRequest);
    state.set(r.id, 2);
  };
  requests.forEach(visit);
  return requests;
}

/** A batch's inner request, as a Graph call. Its url is relative to the version (`/sites/...`). */
function innerCall(outer: GraphCall, r: BatchRequest): GraphCall {
  const url = new URL(r.url.startsWith('/') ? r.url : `/${r.url}`, 'http://batch.invalid');
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    path = url.pathname;
  }
  return {
    method: r.method,
    path,
    query: url.searchParams,
    // The envelope's Authorization applies to every inner request.
    headers: { ...r.headers, authorization: outer.headers.authorization ?? '' },
    body: r.body,
    baseUrl: outer.baseUrl,
    requestId: newGuid(),
    clientRequestId: r.headers['client-request-id'] ?? outer.clientRequestId,
  };
}
