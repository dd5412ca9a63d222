/**
 * Fault injection: the failures the product has to survive, on demand.
 *
 * - `status`: answer the next N matching requests with 429 / 503 / 500 (or any 4xx/5xx)
 *   without applying them.
 * - `appliedButLost`: apply the next N matching writes, then lose the answer: the client
 *   gets a 500 (`mode: "status"`, the default) or a destroyed socket (`mode: "reset"`).
 *   Inside a `$batch` the inner write is applied and the whole batch response is lost.
 * - `reset`: destroy the connection without applying the request.
 *
 * Scope: `list` (id or display name) and `op` (`read`, `create`, `update`, `delete`, `batch`).
 * `op: "batch"` matches only the `$batch` envelope; every other fault matches single requests
 * and the inner requests of a batch, never the envelope.
 */

export type FaultOp = 'read' | 'create' | 'update' | 'delete' | 'batch';

export interface FaultScope {
  list?: string;
  op?: FaultOp;
}

export type FaultSpec =
  | { kind: 'status'; status: number; count?: number; retryAfter?: number; code?: string; message?: string; scope?: FaultScope }
  | { kind: 'appliedButLost'; count?: number; mode?: 'status' | 'reset'; status?: number; scope?: FaultScope }
  | { kind: 'reset'; count?: number; scope?: FaultScope };

export type ActiveFault = FaultSpec & { id: string; remaining: number };

export interface FaultTarget {
  op: FaultOp;
  envelope: boolean;
  /** Id and display name of the list the request addresses, when it addresses one. */
  listId?: string;
  listName?: string;
}

const OPS: readonly FaultOp[] = ['read', 'create', 'update', 'delete', 'batch'];

/** Checks a fault posted to the control endpoint; returns a message when it is not valid. */
export function checkFaultSpec(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'a fault must be a JSON object';
  const f = raw as Record<string, unknown>;
  if (f.kind !== 'status' && f.kind !== 'appliedButLost' && f.kind !== 'reset') {
    return "kind must be 'status', 'appliedButLost' or 'reset'";
  }
  if (f.count !== undefined && (typeof f.count !== 'number' || !Number.isInteger(f.count) || f.count < 1)) {
    return 'count must be a whole number of at least 1';
  }
  if (f.kind === 'status' && (typeof f.status !== 'number' || !Number.isInteger(f.status) || f.status < 400 || f.status > 599)) {
    return 'status must be an HTTP error status (400-599)';
  }
  if (f.retryAfter !== undefined && (typeof f.retryAfter !== 'number' || f.retryAfter < 0)) {
    return 'retryAfter must be a number of seconds';
  }
  if (f.kind === 'appliedButLost' && f.mode !== undefined && f.mode !== 'status' && f.mode !== 'reset') {
    return "mode must be 'status' or 'reset'";
  }
  if (f.scope !== undefined) {
    if (typeof f.scope !== 'object' || f.scope === null) return 'scope must be an object';
    const s = f.scope as Record<string, unknown>;
    if (s.list !== undefined && typeof s.list !== 'string') return 'scope.list must be a list id or display name';
    if (s.op !== undefined && !OPS.includes(s.op as FaultOp)) return `scope.op must be one of ${OPS.join(', ')}`;
  }
  return undefined;
}

export class FaultBook {
  private faults: ActiveFault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): ActiveFault {
    const fault = { ...spec, id: `fault-${this.nextId++}`, remaining: spec.count ?? 1 } as ActiveFault;
    this.faults.push(fault);
    return fault;
  }

  list(): ActiveFault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  clear(): void {
    this.faults = [];
  }

  /** Gives back a use taken by `take` (the fault could not act on that request). */
  refund(fault: ActiveFault): void {
    const live = this.faults.find((f) => f.id === fault.id);
    if (live) live.remaining++;
    else this.faults.unshift({ ...fault, remaining: 1 });
  }

  /** Takes one use of the first fault that matches the request, if any. */
  take(target: FaultTarget): ActiveFault | undefined {
    const index = this.faults.findIndex((f) => matches(f, target));
    if (index < 0) return undefined;
    const fault = this.faults[index] as ActiveFault;
    fault.remaining--;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }
}

function matches(fault: ActiveFault, t: FaultTarget): boolean {
  const scope = fault.scope ?? {};
  if (t.envelope !== (scope.op === 'batch')) return false;
  if (scope.op && scope.op !== t.op) return false;
  if (scope.list !== undefined) {
    const want = scope.list.toLowerCase();
    if (t.listId?.toLowerCase() !== want && t.listName?.toLowerCase() !== want) return false;
  }
  // Losing the answer of a read loses nothing: appliedButLost only ever matches writes.
  if (fault.kind === 'appliedButLost' && (t.op === 'read' || t.envelope) && scope.op !== 'batch') return false;
  return true;
}
