import type { RunPlanPage } from '../../../src/core/ports/state';
import { PLAN_PAGE_OPS, PlanPageWriter } from '../../../src/sync/plan/plan-pages';
import type { PlannedOp } from '../../../src/sync/run-state';

/** The dry-run plan writer, over an in-memory page store (the stores themselves have contract tests). */
describe('writing a dry-run plan page by page', () => {
  const op = (n: number, list: string, kind: PlannedOp['op'], fields: Record<string, unknown> = {}): PlannedOp => ({ op: kind, identityHash: `h${n}`, key: [n], list, fields });

  it('writes each (list, operation) a full page at a time as ops arrive, holding at most one unfinished page each', async () => {
    const stored: RunPlanPage[] = [];
    const writer = new PlanPageWriter({ putRunPlanPage: async (p) => void stored.push(p) }, 'run-1');
    for (let n = 0; n < 5 * PLAN_PAGE_OPS + 7; n++) await writer.write([op(n, n % 2 ? 'B' : 'A', 'create')]);
    // Before finish: only full pages are out.
    expect(stored.every((p) => p.items.length === PLAN_PAGE_OPS)).toBe(true);
    expect(stored.length).toBe(4);
    await writer.write([op(9999, 'A', 'delete')]);
    const pages = await writer.finish();
    expect(pages).toEqual({ A: { create: 3, delete: 1 }, B: { create: 3 } });
    const all = stored.flatMap((p) => p.items as PlannedOp[]);
    expect(all.map((o) => o.key[0]).sort((a, b) => Number(a) - Number(b))).toEqual([...Array.from({ length: 5 * PLAN_PAGE_OPS + 7 }, (_, n) => n), 9999]);
    expect(stored.filter((p) => p.list === 'A' && p.op === 'create').map((p) => p.page)).toEqual([0, 1, 2]);
    expect(stored.every((p) => p.runId === 'run-1' && (p.items as PlannedOp[]).every((o) => o.list === p.list && o.op === p.op))).toBe(true);
  });

  it('starts a new page early when wide rows make a page large, so every page fits a Table Storage entity', async () => {
    const stored: RunPlanPage[] = [];
    const writer = new PlanPageWriter({ putRunPlanPage: async (p) => void stored.push(p) }, 'run-2');
    const wide = 'x'.repeat(20_000);
    await writer.write(Array.from({ length: 30 }, (_, n) => op(n, 'L', 'update', { Notes: wide })));
    await writer.finish();
    expect(stored.length).toBeGreaterThan(1);
    for (const page of stored) expect(JSON.stringify(page.items).length).toBeLessThan(240_000);
    expect(stored.reduce((n, p) => n + p.items.length, 0)).toBe(30);
  });
});
