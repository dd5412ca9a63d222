import { startPostgres } from '../../src/local/services';
import { describeFailures, runScenario, setupChaos, summarise, type ScenarioResult } from './scenario';
import { startChaosStack, type ChaosStore } from './stores';

/**
 * `npm run chaos -- --seeds N [--from S] [--store table|postgres|both]` runs N seeded
 * scenarios; `--seed S` replays one. Prints `chaos: S scenarios, F faults, V violations` and
 * exits 1 on any violation.
 */
function args(argv: string[]) {
  const out = { seeds: 20, from: 1000, store: 'both', seed: undefined as number | undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const num = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} takes a whole number, got '${value ?? ''}'`);
      i++;
      return n;
    };
    if (flag === '--seeds') out.seeds = num();
    else if (flag === '--from') out.from = num();
    else if (flag === '--seed') out.seed = num();
    else if (flag === '--store' && (value === 'table' || value === 'postgres' || value === 'both')) (out.store = value), i++;
    else throw new Error(`unknown argument '${flag}' (use --seeds N, --from S, --seed S, --store table|postgres|both)`);
  }
  return out;
}

async function main() {
  let opts: ReturnType<typeof args>;
  try {
    opts = args(process.argv.slice(2));
  } catch (error) {
    console.error(`chaos: ${(error as Error).message}`);
    process.exit(2);
  }
  const pg = await startPostgres({ preferUrl: process.env.TEST_PG_URL });
  process.env.TEST_PG_URL = pg.url;
  const stores: ChaosStore[] = opts.store === 'both' ? ['table', 'postgres'] : [opts.store as ChaosStore];
  const seeds = opts.seed !== undefined ? [opts.seed] : Array.from({ length: opts.seeds }, (_, i) => opts.from + i);
  const results: ScenarioResult[] = [];
  let failed = '';
  for (const [n, store] of stores.entries()) {
    // Both stores share the seed list, half each when more than one seed is asked for.
    const mine = seeds.length > 1 && stores.length > 1 ? seeds.filter((_, i) => i % stores.length === n) : seeds;
    const stack = await startChaosStack(store);
    const ctx = await setupChaos(stack);
    try {
      for (const seed of mine) {
        const started = Date.now();
        const r = await runScenario(ctx, seed);
        results.push(r);
        console.log(`seed ${seed} (${store}): ${r.faults} faults, ${r.violations.length} violations, ${((Date.now() - started) / 1000).toFixed(1)} s`);
        failed += describeFailures([r], store) + (r.violations.length ? '\n' : '');
      }
    } finally {
      await ctx.proxy.stop();
      await stack.stop();
    }
  }
  await pg.stop();
  if (failed) console.log(failed);
  console.log(summarise(results));
  process.exit(failed ? 1 : 0);
}

void main();
