import { MoveBatchMessage, RunsQueueMessage, WriteBatchMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import { syncDeps, type Services } from '../composition';
import { contextLogger } from '../runtime/context-logger';
import type { QueueFunction, TimerFunction } from '../runtime/function-table';
import { probeAndFailover } from '../sync/failover/automatic';
import { handleMoveBatch } from '../sync/move-batch';
import { finalizeRun } from '../sync/finalize';
import { handleRunMessage } from '../sync/plan-run';
import { runScheduler } from '../sync/scheduler';
import { handleWriteBatch } from '../sync/write-batch';
import { queueHandler } from './queue';

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
      // Health first, so a run scheduled for this minute already reads from a promoted source.
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
      else await finalizeRun(deps, message);
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
