import { chunkByBytes, messageBytes, type MoveBatchMessage, type WriteBatchMessage } from '../../core/messages';
import type { OutgoingMessage } from '../../core/ports/bus';
import type { SyncSettings } from '../deps';
import type { RowFailure } from './map-rows';
import type { PlannedRun } from './planned';

/** Room for a batch message's own fields (ids, site, list) around its ops. */
const ENVELOPE_BYTES = 600;

export interface BatchAddress {
  definitionId: string;
  runId: string;
  siteId: string;
}

export interface RunBatches {
  writes: OutgoingMessage[];
  moves: OutgoingMessage[];
  /** Rows too large for any message: per-row failures, never a stuck queue. */
  tooLarge: RowFailure[];
}

/**
 * Splits the planned writes (per list) and moves into queue messages that fit the count and
 * byte limits. Batch ids are the run id and a sequence number, so a resend is deduplicated.
 */
export function batchMessages(plan: Pick<PlannedRun, 'writes' | 'moves'>, address: BatchAddress, settings: Pick<SyncSettings, 'writeBatchMaxOps' | 'messageMaxBytes'>): RunBatches {
  const { definitionId, runId, siteId } = address;
  const { writeBatchMaxOps, messageMaxBytes } = settings;
  const batches: RunBatches = { writes: [], moves: [], tooLarge: [] };
  let seq = 0;
  for (const [listId, ops] of plan.writes) {
    const { chunks, tooLarge } = chunkByBytes(ops, writeBatchMaxOps, messageMaxBytes, ENVELOPE_BYTES);
    for (const op of tooLarge) batches.tooLarge.push({ identityHash: op.identityHash, key: op.key, error: `row_too_large: the row's mapped fields (${messageBytes(op)} bytes) exceed the ${messageMaxBytes}-byte message limit` });
    for (const chunk of chunks) {
      const batchId = `${runId}:w${seq++}`;
      const body: WriteBatchMessage = { definitionId, runId, batchId, siteId, listId, ops: chunk };
      batches.writes.push({ body, messageId: batchId });
    }
  }
  const { chunks, tooLarge } = chunkByBytes(plan.moves, writeBatchMaxOps, messageMaxBytes, ENVELOPE_BYTES);
  for (const move of tooLarge) batches.tooLarge.push({ identityHash: move.identityHash, key: move.key, error: `row_too_large: the row's mapped fields exceed the ${messageMaxBytes}-byte message limit` });
  for (const chunk of chunks) {
    const batchId = `${runId}:m${seq++}`;
    const body: MoveBatchMessage = { definitionId, runId, batchId, siteId, moves: chunk };
    batches.moves.push({ body, messageId: batchId });
  }
  return batches;
}
