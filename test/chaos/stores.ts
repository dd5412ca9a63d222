import { startStack, type Stack } from '../support/stack';

export type ChaosStore = 'table' | 'postgres';

/** A local host stack on the given state store, as the chaos suite runs it. */
export function startChaosStack(store: ChaosStore): Promise<Stack> {
  const settings: Record<string, string> =
    store === 'postgres' ? { STATE_STORE: 'postgres', STATE_SQL_URL: process.env.TEST_PG_URL!, STATE_SQL_SCHEMA: `chaos_state_${Math.random().toString(36).slice(2, 8)}` } : {};
  return startStack({ settings, queues: { maxDequeueCount: 8 } });
}
