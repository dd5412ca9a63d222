import type { PlannedOpKind, RunPlanPage } from '../../../core/ports/state';
import type { RunPlanStorage } from '../run-plans';
import { bind, placeholders, type SqlDb } from './db';

/** A dry run's plan pages in SQL: one row per (run, list, op, page), deleted per run. */
export class SqlRunPlanStorage implements RunPlanStorage {
  constructor(private readonly db: SqlDb) {}

  async write(p: RunPlanPage): Promise<void> {
    const key = { run_id: bind.key(p.runId), list_name: bind.key(p.list), op: bind.key(p.op), page_no: bind.int(p.page) };
    const row = { items: bind.json(p.items) };
    const text = this.db.dialect.upsert(this.table, { key: placeholders(key), values: placeholders(row) });
    await this.db.query('saving a plan page', text, { ...key, ...row });
  }

  async read(runId: string, list: string, op: PlannedOpKind, page: number): Promise<unknown[] | null> {
    const res = await this.db.query<{ items: unknown }>(
      'reading a plan page',
      `SELECT items FROM ${this.table} WHERE run_id = @runId AND list_name = @list AND op = @op AND page_no = @page`,
      { runId: bind.key(runId), list: bind.key(list), op: bind.key(op), page: bind.int(page) },
    );
    const row = res.rows[0];
    return row ? ((this.db.json(row.items) as unknown[] | undefined) ?? []) : null;
  }

  async deleteAll(runId: string): Promise<void> {
    await this.db.query('deleting a run plan', `DELETE FROM ${this.table} WHERE run_id = @runId`, { runId: bind.key(runId) });
  }

  private get table(): string {
    return `${this.db.dialect.schema}.run_plan_pages`;
  }
}
