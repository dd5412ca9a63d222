import { z } from 'zod';

/**
 * Message contracts of the three queues (DESIGN §2). Validated at the edge of every queue
 * handler: a malformed message is dead-lettered with its reason, never retried forever.
 */

const Id = z.string().min(1).max(200);
const Hash = z.string().regex(/^[0-9a-f]{64}$/);
const GraphValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const Deferrals = z.number().int().min(0).optional();

export const RunMessage = z
  .object({
    type: z.literal('run'),
    definitionId: Id,
    runId: Id,
    mode: z.enum(['incremental', 'full', 'dryRun']),
    trigger: z.enum(['schedule', 'manual', 'continuation', 'retry', 'failover']),
    requestedAt: z.string(),
    slot: z.string().optional(),
  })
  .strict();
export type RunMessage = z.infer<typeof RunMessage>;

export const FinalizeMessage = z.object({ type: z.literal('finalize'), definitionId: Id, runId: Id }).strict();
export type FinalizeMessage = z.infer<typeof FinalizeMessage>;

/** A drift check (DESIGN §7), on the runs queue so it holds the definition's lease like a run and never interleaves with one. */
export const DriftCheckMessage = z
  .object({
    type: z.literal('driftCheck'),
    definitionId: Id,
    reportId: Id,
    mode: z.enum(['quick', 'deep']),
    requestedAt: z.string(),
    /** A scheduled check's `drift.autoRepair`: repairs queued once it has found something. */
    autoRepair: z.array(z.enum(['recreateMissing', 'adoptOrphans', 'deleteOrphans', 'removeDuplicates', 'rewriteMismatches', 'fixPointers'])).optional(),
  })
  .strict();
export type DriftCheckMessage = z.infer<typeof DriftCheckMessage>;

export const DriftRepairMessage = z
  .object({
    type: z.literal('driftRepair'),
    definitionId: Id,
    reportId: Id,
    repairId: Id,
    actions: z.array(z.enum(['recreateMissing', 'adoptOrphans', 'deleteOrphans', 'removeDuplicates', 'rewriteMismatches', 'fixPointers'])).min(1),
  })
  .strict();
export type DriftRepairMessage = z.infer<typeof DriftRepairMessage>;

/** A drift watch (DESIGN §7): sent by a finished run of a definition with `drift.watch`, so it takes the lease after the run let go of it. */
export const DriftWatchMessage = z.object({ type: z.literal('driftWatch'), definitionId: Id, watchId: Id, afterRunId: Id }).strict();
export type DriftWatchMessage = z.infer<typeof DriftWatchMessage>;

export const RunsQueueMessage = z.discriminatedUnion('type', [RunMessage, FinalizeMessage, DriftCheckMessage, DriftRepairMessage, DriftWatchMessage]);
export type RunsQueueMessage = z.infer<typeof RunsQueueMessage>;

export const WriteOpMessage = z
  .object({
    identityHash: Hash,
    kind: z.enum(['create', 'update', 'delete']),
    itemId: z.string().optional(),
    fields: z.record(z.string(), GraphValue).optional(),
    contentHash: z.string(),
    key: z.array(z.unknown()),
    /** Per-field hashes of `fields`, stored in the ledger once the write lands. */
    fieldHashes: z.record(z.string(), z.string()).optional(),
    /** An update of these fields only (the others are unchanged in SharePoint); absent = every field. */
    changedFields: z.array(z.string()).optional(),
  })
  .strict();
export type WriteOpMessage = z.infer<typeof WriteOpMessage>;

export const WriteBatchMessage = z
  .object({
    definitionId: Id,
    runId: Id,
    batchId: Id,
    siteId: z.string().min(1),
    listId: z.string().min(1),
    ops: z.array(WriteOpMessage).min(1),
    /** How often this batch was rescheduled (throttling); part of the next message id. */
    deferrals: Deferrals,
  })
  .strict();
export type WriteBatchMessage = z.infer<typeof WriteBatchMessage>;

export const MoveOpMessage = z
  .object({
    identityHash: Hash,
    from: z.object({ listId: z.string(), itemId: z.string() }).strict(),
    toListId: z.string(),
    fields: z.record(z.string(), GraphValue),
    contentHash: z.string(),
    key: z.array(z.unknown()),
  })
  .strict();
export type MoveOpMessage = z.infer<typeof MoveOpMessage>;

export const MoveBatchMessage = z
  .object({ definitionId: Id, runId: Id, batchId: Id, siteId: z.string().min(1), moves: z.array(MoveOpMessage).min(1), deferrals: Deferrals })
  .strict();
export type MoveBatchMessage = z.infer<typeof MoveBatchMessage>;

/** Serialised size of a message body, as the transport will count it. */
export const messageBytes = (body: unknown) => Buffer.byteLength(JSON.stringify(body), 'utf8');

/**
 * Splits items into chunks that stay under `maxCount` and, once wrapped in their envelope,
 * under `maxBytes`. An item that alone cannot fit is returned in `tooLarge` (a per-row failure
 * with a clear reason, never a stuck queue).
 */
export function chunkByBytes<T>(items: T[], maxCount: number, maxBytes: number, envelopeBytes: number): { chunks: T[][]; tooLarge: T[] } {
  const chunks: T[][] = [];
  const tooLarge: T[] = [];
  let current: T[] = [];
  let size = envelopeBytes;
  for (const item of items) {
    const bytes = messageBytes(item) + 1;
    if (envelopeBytes + bytes > maxBytes) {
      tooLarge.push(item);
      continue;
    }
    if (current.length >= maxCount || size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = envelopeBytes;
    }
    current.push(item);
    size += bytes;
  }
  if (current.length) chunks.push(current);
  return { chunks, tooLarge };
}
