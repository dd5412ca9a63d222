import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What one operation (a drift check, a write batch, a run) spent at SharePoint, counted where the
 * spend happens: every Graph request the adapter sends inside `meterSpend(...)` adds the RU the
 * limiter charged for it (throttled attempts included: SharePoint counts them too) and one HTTP
 * request. Meters nest: a request counts in every meter around it.
 */
export interface Spend {
  ru: number;
  requests: number;
}

const meters = new AsyncLocalStorage<Spend[]>();

/**
 * Runs `fn` with a fresh meter; answers its result and what it spent. A caller that needs the
 * spend even when `fn` throws passes its own `spend` to be counted into.
 */
export async function meterSpend<T>(fn: () => Promise<T>, spend: Spend = { ru: 0, requests: 0 }): Promise<{ result: T; spend: Spend }> {
  const result = await meters.run([...(meters.getStore() ?? []), spend], fn);
  return { result, spend };
}

/** Called by the Graph adapter for each request it sends. */
export function recordSpend(ru: number): void {
  for (const spend of meters.getStore() ?? []) {
    spend.ru += ru;
    spend.requests += 1;
  }
}
