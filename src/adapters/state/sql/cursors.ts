import type { CursorRecord, CursorStore } from '../../../core/ports/state';
import { iso } from '../common';
import { bind, placeholders, type SqlDb } from './db';

interface CursorRow {
  position: string | null;
  mapping_version: number;
  updated_at: Date;
}

/** Cursors in SQL: one row per (definition, source). */
export class SqlCursors implements CursorStore {
  constructor(private readonly db: SqlDb) {}

  async getCursor(definitionId: string, sourceId: string): Promise<CursorRecord | null> {
    const res = await this.db.query<CursorRow>(
      'reading the cursor',
      `SELECT position, mapping_version, updated_at FROM ${this.db.dialect.schema}.cursors WHERE definition_id = @definitionId AND source_id = @sourceId`,
      { definitionId: bind.key(definitionId), sourceId: bind.key(sourceId) },
    );
    const row = res.rows[0];
    return row ? { definitionId, sourceId, position: row.position, mappingVersion: row.mapping_version, updatedAt: iso(row.updated_at) } : null;
  }

  async putCursor(cursor: CursorRecord): Promise<void> {
    const { dialect } = this.db;
    const key = { definition_id: bind.key(cursor.definitionId), source_id: bind.key(cursor.sourceId) };
    const row = { position: bind.text(cursor.position), mapping_version: bind.int(cursor.mappingVersion) };
    const text = dialect.upsert(`${dialect.schema}.cursors`, { key: placeholders(key), values: placeholders(row), onUpdate: { updated_at: dialect.now } });
    await this.db.query('saving the cursor', text, { ...key, ...row });
  }
}
