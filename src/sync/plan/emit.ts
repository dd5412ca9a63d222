import { chunkByBytes, messageBytes, type MoveBatchMessage, type WriteBatchMessage } from '../../core/messages';
import type { OutgoingMessage } from '../../core/ports/bus';
import type { SyncSettings } from '../deps';
import { batchIdOf } from '../run-state';
import type { RowFailure } from './map-rows';
import type { PlannedRun } from './planned';

/** Room for a batch message's own fields (ids, site, list) around its ops. */
const ENVELOPE_BYTES = 600;

export interface BatchAddress {
  definitionId: string;
  runId: string;
  siteId: string;
  /** The run's planning attempt (1 unless planning was retried); part of every batch id. */
  attempt?: number;
}

export interface RunBatches {
  writes: OutgoingMessage[];
  moves: OutgoingMessage[];
  /** Rows too large for any message: per-row failures, never a stuck queue. */
  tooLarge: RowFailure[];
}

/**
 * Splits the planned writes (per list) and moves into queue messages that fit the count and
 * byte limits. Batch ids are the run id, its planning attempt and a sequence number (from
 * `firstSeq`, as a run sends page after page), so a resend is deduplicated.
 */
export function batchMessages(plan: Pick<PlannedRun, 'writes' | 'moves'>, address: BatchAddress, settings: Pick<SyncSettings, 'writeBatchMaxOps' | 'messageMaxBytes'>, firstSeq = 0): RunBatches {
  const { definitionId, runId, siteId } = address;
  const attempt = address.attempt ?? 1;
  const { writeBatchMaxOps, messageMaxBytes } = settings;
  const batches: RunBatches = { writes: [], moves: [], tooLarge: [] };
  let seq = firstSeq;
  for (const [listId, ops] of plan.writes) {
    const { chunks, tooLarge } = chunkByBytes(ops, writeBatchMaxOps, messageMaxBytes, ENVELOPE_BYTES);
    for (const op of tooLarge) batches.tooLarge.push({ identityHash: op.identityHash, key: op.key, error: `row_too_large: the row's mapped fields (${messageBytes(op)} bytes) exceed the ${messageMaxBytes}-byte message limit` });
    for (const chunk of chunks) {
      const batchId = batchIdOf(runId, attempt, 'w', seq++);
      const body: WriteBatchMessage = { definitionId, runId, batchId, siteId, listId, ops: chunk };
      batches.writes.push({ body, messageId: batchId });
    }
  }
  const { chunks, tooLarge } = chunkByBytes(plan.moves, writeBatchMaxOps, messageMaxBytes, ENVELOPE_BYTES);
  for (const move of tooLarge) batches.tooLarge.push({ identityHash: move.identityHash, key: move.key, error: `row_too_large: the row's mapped fields exceed the ${messageMaxBytes}-byte message limit` });
  for (const chunk of chunks) {
    const batchId = batchIdOf(runId, attempt, 'm', seq++);
    const body: MoveBatchMessage = { definitionId, runId, batchId, siteId, moves: chunk };
    batches.moves.push({ body, messageId: batchId });
  }
  return batches;
}
