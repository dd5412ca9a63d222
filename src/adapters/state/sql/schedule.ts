import type { ScheduleCell } from '../schedule';
import { bind, type SqlDb, type SqlValue } from './db';

/**
 * Schedule values in SQL: a table per value (`schedule_slots.last_slot`, `reconcile_passes.passes`,
 * `drift_slots.last_slot`, `drift_watch_tokens.tokens`, `reconcile_marks.mark`),
 * one row per definition. Compare-and-set is one statement; from "none stored" it is an insert
 * that also takes a row whose value is NULL, and losers of a concurrent first insert see the
 * winner's row and change nothing.
 */
class SqlScheduleCell<T extends string | number> implements ScheduleCell<T> {
  constructor(
    private readonly db: SqlDb,
    private readonly tableName: string,
    private readonly column: string,
    private readonly bindValue: (value: T) => SqlValue,
  ) {}

  async read(definitionId: string): Promise<T | null> {
    const res = await this.db.query<Record<string, T | null>>('reading the schedule', `SELECT ${this.column} FROM ${this.table} WHERE definition_id = @definitionId`, {
      definitionId: bind.key(definitionId),
    });
    return res.rows[0]?.[this.column] ?? null;
  }

  async compareAndSet(definitionId: string, expected: T | null, value: T): Promise<boolean> {
    const { dialect } = this.db;
    const text =
      expected === null
        ? dialect.upsert(this.table, {
            key: { definition_id: '@definitionId' },
            values: { [this.column]: '@value' },
            onUpdate: { updated_at: dialect.now },
            when: `t.${this.column} IS NULL`,
          })
        : `UPDATE ${this.table} SET ${this.column} = @value, updated_at = ${dialect.now} WHERE definition_id = @definitionId AND ${this.column} = @expected`;
    const values = { definitionId: bind.key(definitionId), value: this.bindValue(value), ...(expected === null ? {} : { expected: this.bindValue(expected) }) };
    return (await this.db.query('recording the schedule', text, values)).count === 1;
  }

  private get table(): string {
    return `${this.db.dialect.schema}.${this.tableName}`;
  }
}

export const sqlSlots = (db: SqlDb): ScheduleCell<string> => new SqlScheduleCell<string>(db, 'schedule_slots', 'last_slot', bind.key);
export const sqlDriftSlots = (db: SqlDb): ScheduleCell<string> => new SqlScheduleCell<string>(db, 'drift_slots', 'last_slot', bind.key);
export const sqlWatchTokens = (db: SqlDb): ScheduleCell<string> => new SqlScheduleCell<string>(db, 'drift_watch_tokens', 'tokens', bind.text);
export const sqlReconcileMarks = (db: SqlDb): ScheduleCell<string> => new SqlScheduleCell<string>(db, 'reconcile_marks', 'mark', bind.text);
export const sqlReconcilePasses = (db: SqlDb): ScheduleCell<number> => new SqlScheduleCell<number>(db, 'reconcile_passes', 'passes', bind.int);
