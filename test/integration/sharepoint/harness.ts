import { staticTokenSource } from '../../../src/adapters/sharepoint/auth';
import { GraphListTarget } from '../../../src/adapters/sharepoint/graph-list-target';
import { TenantLimiter } from '../../../src/adapters/sharepoint/limiter';
import type { ListSpec } from '../../../src/core/ports/list-target';
import { startGraphEmulator, type GraphEmulator } from '../../../src/emulator';

/**
 * One Graph emulator per test file, in process, spoken to over HTTP by the real Graph client
 * through the adapter. Budgets are large unless a test is about throttling, so tests stay fast.
 */
export interface Harness {
  emulator: GraphEmulator;
  target: GraphListTarget;
  limiter: TenantLimiter;
  siteId: string;
  close(): Promise<void>;
}

export async function startHarness(opts: { budgetRuPerMinute?: number; maxConcurrency?: number; maxInlineWaitMs?: number } = {}): Promise<Harness> {
  const budget = opts.budgetRuPerMinute ?? 600_000;
  const emulator = await startGraphEmulator({ port: 0, budgetRuPerMinute: budget });
  // A limiter of its own (not the process registry): each test file has its own emulator.
  const limiter = new TenantLimiter({ budgetRuPerMinute: budget, maxConcurrency: opts.maxConcurrency ?? 4 });
  const target = new GraphListTarget({
    baseUrl: emulator.url,
    tokens: staticTokenSource('emulator-token'),
    limiter,
    retryBaseDelayMs: 20,
    maxInlineWaitMs: opts.maxInlineWaitMs,
  });
  return { emulator, target, limiter, siteId: emulator.state.defaultSiteId, close: () => emulator.close() };
}

export const ordersSpec = (displayName: string): ListSpec => ({
  displayName,
  columns: [
    { name: 'Title', type: 'text' },
    { name: 'Amount', type: 'number', decimalPlaces: 2 },
    { name: 'Category', type: 'text', maxLength: 50 },
    { name: 'Due', type: 'dateOnly' },
    { name: 'Status', type: 'choice', choices: ['open', 'closed'] },
  ],
});

/** A 64-hex-character SyncKey, as identity hashes are. */
export const key = (n: number | string): string => String(n).padStart(64, '0').slice(-64);
