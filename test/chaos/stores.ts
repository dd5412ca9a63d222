import { startStack, stateStoreSettings, type Stack } from '../support/stack';

export type ChaosStore = 'table' | 'postgres';

/** A local host stack on the given state store, as the chaos suite runs it. */
export function startChaosStack(store: ChaosStore): Promise<Stack> {
  return startStack({ settings: stateStoreSettings(store, 'chaos_state'), queues: { maxDequeueCount: 8 } });
}
