import type { CursorRecord, CursorStore } from '../../../core/ports/state';
import { iso } from '../common';
import { bind, type SqlDb } from './db';

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
    const text = dialect.upsert(`${dialect.schema}.cursors`, {
      key: { definition_id: '@definitionId', source_id: '@sourceId' },
      values: { position: '@position', mapping_version: '@mappingVersion' },
      onUpdate: { updated_at: dialect.now },
    });
    await this.db.query('saving the cursor', text, {
      definitionId: bind.key(cursor.definitionId),
      sourceId: bind.key(cursor.sourceId),
      position: bind.text(cursor.position),
      mappingVersion: bind.int(cursor.mappingVersion),
    });
  }
}
