import { MoveBatchMessage, RunsQueueMessage, WriteBatchMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import { syncDeps, type Services } from '../composition';
import { contextLogger } from '../runtime/context-logger';
import type { QueueFunction, TimerFunction } from '../runtime/function-table';
import { probeAndFailover } from '../sync/failover/automatic';
import { handleDriftMessage } from '../sync/drift';
import { handleMoveBatch } from '../sync/move-batch';
import { finalizeRun } from '../sync/finalize';
import { handleRunMessage } from '../sync/plan-run';
import { reapStalledRuns } from '../sync/reaper';
import { runScheduler } from '../sync/scheduler';
import { handleWriteBatch } from '../sync/write-batch';
import { endRunOfDeadLetter, settleDeadLetteredBatch } from '../sync/dead-letters';
import { deadLetterHandler, queueHandler } from './queue';

/**
 * The pipeline's triggers: thin adapters from messages to use cases (DESIGN §2). Each handler
 * asks `services` for its collaborators when it runs, never when the table is built.
 */

export function schedulerFunction(services: Services): TimerFunction {
  return {
    kind: 'timer',
    name: 'scheduler',
    schedule: '%SCHEDULER_CRON%',
    handler: async (_timer, context) => {
      const deps = await syncDeps(services, contextLogger(context));
      // Reap first: a run it ends frees the lease for the slot's run enqueued next.
      const reaped = await reapStalledRuns(deps);
      if (reaped.length) contextLogger(context).warn('stalled runs ended', { runs: reaped });
      // Then health, so a run scheduled for this minute already reads from a promoted source.
      const { failovers } = await probeAndFailover(deps);
      if (failovers.length) contextLogger(context).warn('automatic failover', { events: failovers.map((e) => ({ definitionId: e.definitionId, from: e.from, to: e.to })) });
      const { enqueued } = await runScheduler(deps);
      if (enqueued.length) contextLogger(context).info('scheduled runs enqueued', { definitions: enqueued });
    },
  };
}

export function syncRunsFunction(services: Services): QueueFunction {
  return {
    kind: 'queue',
    name: 'syncRuns',
    queueName: QUEUES.runs,
    sessions: true,
    handler: queueHandler(RunsQueueMessage, async (message, context) => {
      const deps = await syncDeps(services, contextLogger(context));
      if (message.type === 'run') await handleRunMessage(deps, message);
      else if (message.type === 'finalize') await finalizeRun(deps, message);
      else await handleDriftMessage(deps, message);
    }),
  };
}

export function syncWritesFunction(services: Services): QueueFunction {
  return {
    kind: 'queue',
    name: 'syncWrites',
    queueName: QUEUES.writes,
    handler: queueHandler(WriteBatchMessage, async (message, context) => handleWriteBatch(await syncDeps(services, contextLogger(context)), message)),
  };
}

export function syncMovesFunction(services: Services): QueueFunction {
  return {
    kind: 'queue',
    name: 'syncMoves',
    queueName: QUEUES.moves,
    handler: queueHandler(MoveBatchMessage, async (message, context) => handleMoveBatch(await syncDeps(services, contextLogger(context)), message)),
  };
}

/** Dead letters of the three queues: each settles its message in its run (src/sync/dead-letters.ts). */
export function deadLetterFunctions(services: Services): QueueFunction[] {
  return [
    {
      kind: 'queue',
      name: 'syncRunsDeadLetters',
      queueName: QUEUES.runs,
      deadLetters: true,
      handler: deadLetterHandler(RunsQueueMessage, async (message, why, context) => endRunOfDeadLetter(await syncDeps(services, contextLogger(context)), message, why)),
    },
    {
      kind: 'queue',
      name: 'syncWritesDeadLetters',
      queueName: QUEUES.writes,
      deadLetters: true,
      handler: deadLetterHandler(WriteBatchMessage, async (message, why, context) => settleDeadLetteredBatch(await syncDeps(services, contextLogger(context)), message, why)),
    },
    {
      kind: 'queue',
      name: 'syncMovesDeadLetters',
      queueName: QUEUES.moves,
      deadLetters: true,
      handler: deadLetterHandler(MoveBatchMessage, async (message, why, context) => settleDeadLetteredBatch(await syncDeps(services, contextLogger(context)), message, why)),
    },
  ];
}
