import type { LeaseStorage } from '../leases';
import { bind, type SqlDb } from './db';

/** Leases in SQL: one row per lease, each change one statement judged by the database clock, so instance clock skew is irrelevant. */
export class SqlLeaseStorage implements LeaseStorage {
  constructor(private readonly db: SqlDb) {}

  async take(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const { dialect } = this.db;
    const text = dialect.upsert(this.table, {
      key: { name: '@name' },
      values: { holder: '@holder', expires_at: dialect.later('@ttl') },
      // Taken over only when expired, or re-taken by its own holder.
      when: `(t.expires_at < ${dialect.now} OR t.holder = @holder)`,
    });
    return (await this.db.query(`acquiring lease '${name}'`, text, this.values(name, holder, ttlMs))).count === 1;
  }

  async extend(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const text = `UPDATE ${this.table} SET expires_at = ${this.db.dialect.later('@ttl')} WHERE name = @name AND holder = @holder`;
    return (await this.db.query(`renewing lease '${name}'`, text, this.values(name, holder, ttlMs))).count === 1;
  }

  async free(name: string, holder: string): Promise<void> {
    await this.db.query(`releasing lease '${name}'`, `DELETE FROM ${this.table} WHERE name = @name AND holder = @holder`, { name: bind.key(name), holder: bind.key(holder) });
  }

  private get table(): string {
    return `${this.db.dialect.schema}.leases`;
  }

  private values(name: string, holder: string, ttlMs: number) {
    // Whole milliseconds within a 32-bit integer, which both engines add to a time.
    return { name: bind.key(name), holder: bind.key(holder), ttl: bind.int(Math.min(Math.round(ttlMs), 2_147_483_647)) };
  }
}
