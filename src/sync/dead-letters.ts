import type { MoveBatchMessage, RunsQueueMessage, WriteBatchMessage } from '../core/messages';
import { emptyRunCounts } from '../core/ports/state';
import type { SyncDeps } from './deps';
import { settleBatchAsFailed, stopRun, storedReason } from './run-lifecycle';

/**
 * What a dead-lettered message means for its run (the `<queue>/$deadletterqueue` triggers on
 * Service Bus, `<queue>-poison` on the local host). A batch settles as failed in its run: its
 * rows go to the failure list and are retried by key later, and the run ends `partial` once
 * its other batches settle. A run or finalize message that could not be handled ends its run
 * `failed`, naming why; the cursor stays where it was.
 */

export interface DeadLetterReason {
  /** Service Bus `deadLetterReason` (e.g. MaxDeliveryCountExceeded). */
  reason?: string;
  /** Service Bus `deadLetterErrorDescription`; the local host puts the last error here. */
  description?: string;
}

export function describeDeadLetter(why: DeadLetterReason): string {
  const parts = [why.reason, why.description].filter((p): p is string => !!p);
  return parts.length ? parts.join(': ') : 'no reason recorded';
}

export async function settleDeadLetteredBatch(deps: SyncDeps, message: WriteBatchMessage | MoveBatchMessage, why: DeadLetterReason): Promise<void> {
  deps.log.warn('dead-lettered batch settled as failed', { runId: message.runId, batchId: message.batchId, reason: describeDeadLetter(why) });
  await settleBatchAsFailed(deps, message, `the batch could not be written and was dead-lettered (${describeDeadLetter(why)}); the row is retried by the next runs`);
}

export async function endRunOfDeadLetter(deps: SyncDeps, message: RunsQueueMessage, why: DeadLetterReason): Promise<void> {
  if (message.type === 'driftCheck' || message.type === 'driftRepair') return failDriftReportOfDeadLetter(deps, message, why);
  if (message.type === 'driftWatch') {
    // A watch stores nothing until it finds something, and the next run's watch reads from the same tokens.
    deps.log.warn('dead-lettered drift watch dropped; the next run watches again', { definitionId: message.definitionId, reason: describeDeadLetter(why) });
    return;
  }
  const reason =
    message.type === 'run'
      ? `the run message could not be handled and was dead-lettered (${describeDeadLetter(why)})`
      : `closing the run failed repeatedly and its message was dead-lettered (${describeDeadLetter(why)}); the cursor did not move`;
  const stopped = await stopRun(deps, message.runId, { status: 'failed', reason });
  if (stopped || message.type !== 'run') return;
  // The run never got as far as a record: leave one, so the admin sees what happened to it.
  const now = deps.now().toISOString();
  await deps.state.createRun({
    runId: message.runId,
    definitionId: message.definitionId,
    mode: message.mode,
    trigger: message.trigger,
    status: 'failed',
    startedAt: now,
    finishedAt: now,
    counts: emptyRunCounts(),
    batchesExpected: 0,
    batchesSettled: 0,
    error: storedReason(reason),
  });
}

/** A drift check or repair whose message was dead-lettered: its report says so instead of staying queued. */
async function failDriftReportOfDeadLetter(deps: SyncDeps, message: Extract<RunsQueueMessage, { type: 'driftCheck' | 'driftRepair' }>, why: DeadLetterReason): Promise<void> {
  const record = await deps.state.getDriftReport(message.definitionId, message.reportId);
  if (!record || record.status === 'done' || record.status === 'failed') return;
  const what = message.type === 'driftCheck' ? 'the drift check' : 'the repair';
  const error = storedReason(`${what} could not be handled and its message was dead-lettered (${describeDeadLetter(why)})`);
  await deps.state.putDriftReport({ ...record, status: 'failed', report: { ...(record.report as object), finishedAt: deps.now().toISOString(), error } });
}
