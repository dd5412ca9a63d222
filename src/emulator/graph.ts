/**
 * Graph v1.0 requests for SharePoint sites, lists, columns and items, and `$batch`.
 * One entry point per request (`execute`), used for plain HTTP requests and for each inner
 * request of a batch alike, so both go through the same routing, RU charging, throttling
 * and fault injection. What a request does lives in `routes.ts` and the handlers it names.
 */
import { errorResult, injectedAnswer, lostAnswer, resultOfError, type GraphCall, type GraphResult, type ResourceContext } from './call';
import { runBatch } from './batch';
import type { FaultBook } from './faults';
import type { MetricsRecorder } from './metrics';
import { route, type Endpoint } from './routes';
import { RU_COST, type Throttle } from './throttle';

export interface EngineOptions extends ResourceContext {
  throttle: Throttle;
  faults: FaultBook;
  metrics: MetricsRecorder;
}

export class GraphEngine {
  constructor(private readonly o: EngineOptions) {}

  /** One Graph request (top-level or inside a batch). */
  execute(call: GraphCall): GraphResult {
    const result = this.executeUncounted(call);
    this.o.metrics.status(
      result.reset || result.lose?.mode === 'reset' ? 'reset' : result.lose ? result.lose.status : result.status,
    );
    return result;
  }

  /** `POST /$batch` (learn.microsoft.com/graph/json-batching). */
  batch(call: GraphCall): GraphResult {
    return runBatch(call, { faults: this.o.faults, metrics: this.o.metrics, execute: (inner) => this.execute(inner) });
  }

  private executeUncounted(call: GraphCall): GraphResult {
    let endpoint: Endpoint;
    try {
      endpoint = route(call, this.o);
    } catch (e) {
      return resultOfError(e, call);
    }
    const fault = this.o.faults.take({
      op: endpoint.op,
      envelope: false,
      listId: endpoint.list?.id,
      listName: endpoint.list?.displayName,
    });
    if (fault) {
      this.o.metrics.faultsInjected++;
      const answer = injectedAnswer(fault, call);
      if (answer) return answer;
    }
    const admission = this.o.throttle.admit(this.o.clock(), RU_COST[endpoint.ru]);
    this.o.metrics.charge(endpoint.ru, admission.throttled);
    let result: GraphResult;
    if (admission.throttled) {
      result = errorResult(call, 429, 'activityLimitReached', 'The request has been throttled', admission.headers);
    } else {
      try {
        result = endpoint.run();
      } catch (e) {
        result = resultOfError(e, call);
      }
      Object.assign(result.headers, admission.headers);
    }
    if (fault?.kind === 'appliedButLost') {
      // "Applied but lost" needs a write that was applied; a throttled or refused one keeps the fault for later.
      if (result.status < 300) result.lose = lostAnswer(fault);
      else {
        this.o.faults.refund(fault);
        this.o.metrics.faultsInjected--;
      }
    }
    return result;
  }
}
