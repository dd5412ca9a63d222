import { MoveBatchMessage, RunsQueueMessage, WriteBatchMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import { syncDeps } from '../composition';
import { handleMoveBatch } from '../sync/move-batch';
import { finalizeRun } from '../sync/finalize';
import { handleRunMessage } from '../sync/plan-run';
import { runScheduler } from '../sync/scheduler';
import { handleWriteBatch } from '../sync/write-batch';
import { contextLogger } from '../runtime/context-logger';
import { queueHandler } from './queue';
import type { QueueFunction, TimerFunction } from '../runtime/function-table';

/** The pipeline's triggers: thin adapters from messages to use cases (DESIGN §2). */

export const scheduler: TimerFunction = {
  kind: 'timer',
  name: 'scheduler',
  schedule: '%SCHEDULER_CRON%',
  handler: async (_timer, context) => {
    const { enqueued } = await runScheduler(await syncDeps(contextLogger(context)));
    if (enqueued.length) contextLogger(context).info('scheduled runs enqueued', { definitions: enqueued });
  },
};

export const syncRuns: QueueFunction = {
  kind: 'queue',
  name: 'syncRuns',
  queueName: QUEUES.runs,
  sessions: true,
  handler: queueHandler(RunsQueueMessage, async (message, context) => {
    const deps = await syncDeps(contextLogger(context));
    if (message.type === 'run') await handleRunMessage(deps, message);
    else await finalizeRun(deps, message);
  }),
};

export const syncWrites: QueueFunction = {
  kind: 'queue',
  name: 'syncWrites',
  queueName: QUEUES.writes,
  handler: queueHandler(WriteBatchMessage, async (message, context) => handleWriteBatch(await syncDeps(contextLogger(context)), message)),
};

export const syncMoves: QueueFunction = {
  kind: 'queue',
  name: 'syncMoves',
  queueName: QUEUES.moves,
  handler: queueHandler(MoveBatchMessage, async (message, context) => handleMoveBatch(await syncDeps(contextLogger(context)), message)),
};
