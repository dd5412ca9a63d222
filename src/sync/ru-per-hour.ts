import type { StateStore } from '../core/ports/state';

/**
 * RU spent per UTC hour per SharePoint tenant, from what runs record (`RunRecord.ruSpent`): each
 * run's RU counts in the hour it started. Reads every definition's runs newest first until they
 * are older than the window.
 */

export interface RuPerHour {
  /** Start of each hour, oldest first (ISO). */
  hours: string[];
  tenants: Array<{ tenantId: string; ru: number[]; total: number; runs: number }>;
}

const HOUR_MS = 3_600_000;
const RUN_PAGE = 200;

export async function ruPerHour(state: Pick<StateStore, 'listDefinitions' | 'listSharePoint' | 'listRuns'>, hours: number, now: Date): Promise<RuPerHour> {
  const lastHour = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  const first = lastHour - (hours - 1) * HOUR_MS;
  const starts = Array.from({ length: hours }, (_, i) => new Date(first + i * HOUR_MS).toISOString());
  const [definitions, connections] = await Promise.all([state.listDefinitions(), state.listSharePoint()]);
  const tenantOf = new Map(connections.map((c) => [c.id, c.tenantId]));
  const byTenant = new Map<string, { ru: number[]; runs: number }>();
  for (const stored of definitions) {
    const def = stored.definition;
    const tenantId = tenantOf.get(def.target.connectionId) ?? `unknown (connection ${def.target.connectionId})`;
    const bucket = byTenant.get(tenantId) ?? { ru: new Array<number>(hours).fill(0), runs: 0 };
    byTenant.set(tenantId, bucket);
    let next: string | undefined;
    scan: do {
      const page = await state.listRuns(def.id, { limit: RUN_PAGE, next });
      for (const run of page.items) {
        const started = Date.parse(run.startedAt);
        if (started < first) break scan;
        const hour = Math.floor((started - first) / HOUR_MS);
        if (hour >= hours) continue;
        bucket.ru[hour]! += run.ruSpent ?? 0;
        bucket.runs++;
      }
      next = page.next;
    } while (next);
  }
  const tenants = [...byTenant].sort(([a], [b]) => a.localeCompare(b)).map(([tenantId, b]) => ({ tenantId, ru: b.ru, total: b.ru.reduce((x, y) => x + y, 0), runs: b.runs }));
  return { hours: starts, tenants };
}
