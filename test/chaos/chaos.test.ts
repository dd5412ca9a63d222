import type { Stack } from '../support/stack';
import { describeFailures, runScenario, setupChaos, summarise, type ChaosContext, type ScenarioResult } from './scenario';
import { startChaosStack, type ChaosStore } from './stores';

/**
 * The chaos suite's fixed seeds (`npm run chaos -- --seeds N` runs more): randomized workloads
 * and faults on both state stores, judged by an oracle that shares no code with the product.
 */
const SEEDS = [101, 202, 303];

describe.each<ChaosStore>(['table', 'postgres'])('chaos: the invariant holds after seeded workloads and faults (local host stack, %s state store)', (store) => {
  let stack: Stack;
  let ctx: ChaosContext;

  beforeAll(async () => {
    stack = await startChaosStack(store);
    ctx = await setupChaos(stack);
  }, 60_000);
  afterAll(async () => {
    await ctx?.proxy.stop();
    await stack?.stop();
  });

  it(`seeds ${SEEDS.join(', ')} end with every row once in its list, the ledger exact, every run final and no lease held`, async () => {
    const results: ScenarioResult[] = [];
    for (const seed of SEEDS) results.push(await runScenario(ctx, seed));
    console.log(summarise(results));
    expect(describeFailures(results, store)).toBe('');
  }, 20 * 60_000);
});
