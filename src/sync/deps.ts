import type { Logger } from '../core/ports/logger';
import type { ListTarget } from '../core/ports/list-target';
import type { MessageBus } from '../core/ports/bus';
import type { SourceDatabase } from '../core/ports/source';
import type { StateStore, StoredDefinition } from '../core/ports/state';

/** What the use cases need, handed in by the composition root (ports only, no adapters). */
export interface SyncDeps {
  state: StateStore;
  bus: MessageBus;
  /** The source database behind a source connection id (pooled by the adapter). */
  source(connectionId: string): Promise<SourceDatabase>;
  /** The list target behind a SharePoint connection id (one limiter per tenant). */
  target(connectionId: string): Promise<ListTarget>;
  /**
   * The definition for the write path, which reads it per message: the host may answer from a
   * record read a few seconds ago (composition.ts, `CONFIG_REUSE_MS`). Absent: read from `state`.
   */
  recentDefinition?(id: string): Promise<StoredDefinition | null>;
  log: Logger;
  now(): Date;
  settings: SyncSettings;
  /**
   * Test seam for crash tests: called at each step boundary of the pipeline; a throw there
   * leaves the state exactly as a process crash at that point would. Unset in production.
   */
  faultPoint?: (point: FaultPoint) => void | Promise<void>;
}

export type FaultPoint =
  | 'plan:after-send'
  | 'write:after-pending'
  | 'write:after-graph'
  | 'write:after-synced'
  | 'move:after-create'
  | 'move:after-swap'
  | 'move:after-delete'
  | 'repair:after-pending'
  | 'repair:after-graph'
  | 'repair:after-ledger';

export interface SyncSettings {
  /** Bytes a queue message may carry (Service Bus Standard 256 KB; Storage queues 64 KiB). */
  messageMaxBytes: number;
  /** Write ops per `sync-writes` message (the adapter splits them into `$batch`es of 20). */
  writeBatchMaxOps: number;
  /** Rows read per source query. */
  pageSize: number;
  /**
   * A run whose whole plan has at most this many write ops (in at most 8 batches, no moves) is
   * written by its planning invocation instead of fanning out (src/sync/plan/fan-out.ts); 0 = always fan out.
   */
  inlineWriteMaxOps: number;
  /** How long a run's lease lasts before another run may take over (crash recovery). */
  leaseTtlMs: number;
  /** How often the scheduler timer probes each definition's sources (failover health). */
  probeIntervalMs: number;
  /** How long one source probe may take before it counts as failed. */
  probeTimeoutMs: number;
  /** How long a manual failover waits for a running run to end before it is refused. */
  failoverLeaseWaitMs: number;
  /** Longest a run waits out throttling, counted from its start; then its throttled batches fail. */
  maxThrottleWaitMs: number;
  /** No progress and no throttle wait for this long: the reaper ends the run. */
  stallMs: number;
  /** Planning attempts per run before it fails with the last error. */
  planMaxAttempts: number;
  /** Wait before the second planning attempt; doubled for each further one. */
  planRetryBaseMs: number;
}

export const DEFAULT_SYNC_SETTINGS: SyncSettings = {
  messageMaxBytes: 250_000,
  writeBatchMaxOps: 100,
  pageSize: 2000,
  inlineWriteMaxOps: 400,
  leaseTtlMs: 30 * 60_000,
  probeIntervalMs: 60_000,
  probeTimeoutMs: 10_000,
  failoverLeaseWaitMs: 60_000,
  maxThrottleWaitMs: 120 * 60_000,
  stallMs: 15 * 60_000,
  planMaxAttempts: 4,
  planRetryBaseMs: 30_000,
};

export const runLeaseName = (definitionId: string) => `run:${definitionId}`;
