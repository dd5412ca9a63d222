import { SyncError } from '../../core/errors';
import { SYNC_KEY_COLUMN, type ListItem, type WriteOp, type WriteResult } from '../../core/ports/list-target';
import type { BatchRequest, BatchResponse, GraphTransport } from './graph-client';
import { failureFromBatchResponse, fieldNamedIn, retryKind, toSyncError, type GraphFailure } from './graph-errors';
import { listPath, type Json } from './graph-resources';
import type { GraphListReads } from './list-reads';
import { RU_COST } from './limiter';

/**
 * Item writes: creates, updates and deletes through `$batch` (the transport retries only the
 * requests that failed), one result per op, and creates that find their item already there
 * (a unique-value conflict on SyncKey) adopt it (DESIGN §4).
 */
export class ItemWriter {
  constructor(
    private readonly http: GraphTransport,
    private readonly reads: GraphListReads,
  ) {}

  async writeItems(siteId: string, listId: string, ops: WriteOp[]): Promise<WriteResult[]> {
    const results: Array<WriteResult | undefined> = new Array(ops.length);
    const valid: number[] = [];
    ops.forEach((op, i) => {
      const problem = invalidOp(op);
      if (problem) results[i] = { opId: op.opId, ok: false, status: 0, code: problem.code, message: problem.message, errorClass: 'config' };
      else valid.push(i);
    });

    // Two ops on one item in a single envelope would run in no defined order, so each item
    // appears at most once per wave and waves run one after another.
    for (const wave of waves(valid, (i) => itemKey(ops[i]!))) {
      const requests = wave.map((i) => writeRequest(siteId, listId, ops[i]!, String(i)));
      const responses = await this.http.batch(requests);
      for (const i of wave) results[i] = writeResult(ops[i]!, responses.get(String(i)));
    }

    await this.adoptConflictingCreates(siteId, listId, ops, results);
    return results.map((r, i) => r ?? lostResult(ops[i]!));
  }

  /**
   * A create refused with 409 on its SyncKey means the item exists: typically our own earlier
   * attempt whose answer was lost. Look it up by SyncKey and adopt it, writing this create's
   * fields onto it so the outcome is the same as if the create had gone through (DESIGN §4).
   * A 409 with no item under that SyncKey is a conflict on another unique column and stays one.
   */
  private async adoptConflictingCreates(siteId: string, listId: string, ops: WriteOp[], results: Array<WriteResult | undefined>): Promise<void> {
    const conflicted = ops
      .map((op, i) => ({ op, i }))
      .filter(({ op, i }) => op.kind === 'create' && results[i]?.ok === false && (results[i] as { code: string }).code === 'unique_conflict');
    if (conflicted.length === 0) return;
    let found: Map<string, ListItem>;
    try {
      found = await this.reads.findBySyncKey(siteId, listId, conflicted.map(({ op }) => syncKeyOf(op)!), { select: [SYNC_KEY_COLUMN] });
    } catch (error) {
      const e = error instanceof SyncError ? error : toSyncError({ status: 0, code: 'lookup_failed', message: String(error) }, 'adopting');
      for (const { op, i } of conflicted) {
        results[i] = { opId: op.opId, ok: false, status: e.status, code: 'adoption_failed', message: `the item exists but could not be looked up: ${e.message}`, errorClass: e.errorClass };
      }
      return;
    }
    const updates: Array<{ i: number; op: WriteOp; itemId: string }> = [];
    for (const { op, i } of conflicted) {
      const item = found.get(syncKeyOf(op)!);
      if (item) updates.push({ i, op, itemId: item.id });
    }
    const patchOps = updates.map(({ op, itemId }): WriteOp => ({ opId: op.opId, kind: 'update', itemId, fields: withoutSyncKey(op.fields ?? {}) }));
    const requests = patchOps
      .map((op, n) => ({ op, n }))
      .filter(({ op }) => Object.keys(op.fields ?? {}).length > 0)
      .map(({ op, n }) => writeRequest(siteId, listId, op, `a${n}`));
    const responses = requests.length > 0 ? await this.http.batch(requests) : new Map<string, BatchResponse>();
    updates.forEach(({ i, itemId }, n) => {
      const patched = patchOps[n]!;
      if (Object.keys(patched.fields ?? {}).length === 0) {
        results[i] = { opId: patched.opId, ok: true, itemId, adopted: true };
        return;
      }
      const result = writeResult(patched, responses.get(`a${n}`));
      results[i] = result.ok ? { ...result, itemId, adopted: true } : result;
    });
  }
}

function syncKeyOf(op: WriteOp): string | undefined {
  const key = op.fields?.[SYNC_KEY_COLUMN];
  return typeof key === 'string' && key.length > 0 ? key : undefined;
}

function withoutSyncKey(fields: Record<string, unknown>): Record<string, unknown> {
  const { [SYNC_KEY_COLUMN]: _ignored, ...rest } = fields;
  return rest;
}

function invalidOp(op: WriteOp): { code: string; message: string } | null {
  switch (op.kind) {
    case 'create':
      // Without a SyncKey a create whose answer was lost could not be told from a new one.
      return syncKeyOf(op) ? null : { code: 'missing_sync_key', message: `a create must carry the ${SYNC_KEY_COLUMN} field` };
    case 'update':
      if (!op.itemId) return { code: 'missing_item_id', message: 'an update needs itemId' };
      return op.fields && Object.keys(op.fields).length > 0 ? null : { code: 'missing_fields', message: 'an update needs fields' };
    case 'delete':
      return op.itemId ? null : { code: 'missing_item_id', message: 'a delete needs itemId' };
    default:
      return { code: 'invalid_op', message: `unknown write kind '${String((op as { kind: unknown }).kind)}'` };
  }
}

/** What identifies the item an op touches, for ordering ops on the same item. */
function itemKey(op: WriteOp): string {
  return op.kind === 'create' ? `k:${syncKeyOf(op)!.toLowerCase()}` : `i:${op.itemId}`;
}

/** Splits indexes into successive groups in which no key repeats, keeping the order of each key's ops. */
function waves(indexes: number[], key: (i: number) => string): number[][] {
  const out: number[][] = [];
  const seen = new Map<string, number>();
  for (const i of indexes) {
    const k = key(i);
    const wave = (seen.get(k) ?? -1) + 1;
    seen.set(k, wave);
    (out[wave] ??= []).push(i);
  }
  return out;
}

function writeRequest(siteId: string, listId: string, op: WriteOp, id: string): BatchRequest {
  const items = `${listPath(siteId, listId)}/items`;
  switch (op.kind) {
    case 'create':
      return { id, method: 'POST', url: items, body: { fields: op.fields }, ru: RU_COST.write };
    case 'update':
      return { id, method: 'PATCH', url: `${items}/${op.itemId}/fields`, body: op.fields, ru: RU_COST.write };
    case 'delete':
      return { id, method: 'DELETE', url: `${items}/${op.itemId}`, ru: RU_COST.write };
  }
}

function lostResult(op: WriteOp): WriteResult {
  return { opId: op.opId, ok: false, status: 0, code: 'no_response', message: 'no answer from Microsoft Graph', errorClass: 'transient' };
}

/** One op's outcome from its `$batch` response. */
function writeResult(op: WriteOp, response: BatchResponse | undefined): WriteResult {
  if (!response) return lostResult(op);
  if (response.status >= 200 && response.status < 300) {
    const body = (response.body ?? {}) as Json;
    // A create answers the listItem; a PATCH of fields answers the fieldValueSet (no id).
    const itemId = op.kind === 'create' ? String(body.id) : op.itemId!;
    const eTag = body.eTag ?? body['@odata.etag'];
    return typeof eTag === 'string' ? { opId: op.opId, ok: true, itemId, eTag } : { opId: op.opId, ok: true, itemId };
  }
  return failureResult(op, failureFromBatchResponse(response.status, response.body), response.retryAt);
}

function failureResult(op: WriteOp, failure: GraphFailure, retryAt?: number): WriteResult {
  const base = { opId: op.opId, ok: false as const, status: failure.status, message: `${failure.code}: ${failure.message}` };
  const fieldNames = Object.keys(op.fields ?? {});
  switch (failure.status) {
    case 409:
      return { ...base, code: 'unique_conflict', errorClass: 'skippable', ...named(fieldNamedIn(failure.message, fieldNames)) };
    case 400:
    case 422: {
      const field = fieldNamedIn(failure.message, fieldNames);
      return { ...base, code: field ? 'invalid_field' : 'bad_request', errorClass: 'skippable', ...named(field) };
    }
    case 404:
      // On a create the list itself is missing; on update/delete the item is (a delete is done).
      return op.kind === 'create'
        ? { ...base, code: 'list_not_found', errorClass: 'config' }
        : { ...base, code: 'item_not_found', errorClass: 'skippable' };
    case 401:
      return { ...base, code: 'unauthorized', errorClass: 'config' };
    case 403:
      return { ...base, code: 'forbidden', errorClass: 'config' };
    case 413:
      return { ...base, code: 'too_large', errorClass: 'skippable' };
  }
  switch (retryKind(failure.status)) {
    case 'throttled': {
      const code = failure.status === 429 ? 'throttled' : 'unavailable';
      return retryAt === undefined ? { ...base, code, errorClass: 'transient' } : { ...base, code, errorClass: 'transient', retryAt: new Date(retryAt).toISOString() };
    }
    case 'transient':
      return { ...base, code: failure.status === 0 ? 'no_response' : 'unavailable', errorClass: 'transient' };
    default:
      return { ...base, code: 'graph_error', errorClass: 'skippable' };
  }
}

function named(field: string | undefined): { field?: string } {
  return field === undefined ? {} : { field };
}
