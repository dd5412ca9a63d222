import { RU_COST, type RuKind } from './throttle';

export interface EmulatorMetrics {
  /** Graph requests as SharePoint counts them: each inner request of a $batch is one. */
  requests: number;
  /** HTTP requests to Graph routes ($batch envelopes included, control endpoints not). */
  httpRequests: number;
  batches: number;
  ru: { total: number; byKind: Record<RuKind, number>; throttled: number };
  /** Requests answered 429, injected ones included. */
  throttled: number;
  /** Status of every Graph request (inner batch requests counted by their own status). */
  byStatus: Record<string, number>;
  faultsInjected: number;
  /** When these counters started (ms since epoch), and how long ago. */
  since: number;
  elapsedMs: number;
  /** RU charged in the last 60 s, and the budget it is measured against. */
  window: { usedRu: number; budgetRuPerMinute: number };
}

export class MetricsRecorder {
  requests = 0;
  httpRequests = 0;
  batches = 0;
  ruTotal = 0;
  ruThrottled = 0;
  ruByKind: Record<RuKind, number> = zero();
  throttled = 0;
  byStatus: Record<string, number> = {};
  faultsInjected = 0;
  since: number;

  constructor(private readonly clock: () => number) {
    this.since = clock();
  }

  charge(kind: RuKind, throttled: boolean): void {
    const ru = RU_COST[kind];
    this.ruTotal += ru;
    this.ruByKind[kind] += ru;
    if (throttled) this.ruThrottled += ru;
  }

  /** Counts one Graph request by the status its client saw (`reset` for a dropped connection). */
  status(status: number | 'reset'): void {
    this.requests++;
    this.byStatus[String(status)] = (this.byStatus[String(status)] ?? 0) + 1;
    if (status === 429) this.throttled++;
  }

  reset(): void {
    this.requests = 0;
    this.httpRequests = 0;
    this.batches = 0;
    this.ruTotal = 0;
    this.ruThrottled = 0;
    this.ruByKind = zero();
    this.throttled = 0;
    this.byStatus = {};
    this.faultsInjected = 0;
    this.since = this.clock();
  }

  snapshot(usedRu: number, budget: number): EmulatorMetrics {
    return {
      requests: this.requests,
      httpRequests: this.httpRequests,
      batches: this.batches,
      ru: { total: this.ruTotal, byKind: { ...this.ruByKind }, throttled: this.ruThrottled },
      throttled: this.throttled,
      byStatus: { ...this.byStatus },
      faultsInjected: this.faultsInjected,
      since: this.since,
      elapsedMs: this.clock() - this.since,
      window: { usedRu, budgetRuPerMinute: budget },
    };
  }
}

function zero(): Record<RuKind, number> {
  return { read1: 0, readMany: 0, create: 0, update: 0, delete: 0, permission: 0 };
}
