import type { CursorRecord, CursorStore } from '../../../core/ports/state';
import { encodeKey, getText, num, putText, str, type Props } from './keys';
import type { StateTables } from './tables';

/** Cursors in `<p>Cursors`: PK = definition, RK = source, the position as (chunked) text. */
export class TableCursors implements CursorStore {
  constructor(private readonly tables: StateTables) {}

  async getCursor(definitionId: string, sourceId: string): Promise<CursorRecord | null> {
    const row = await this.tables.get('Cursors', encodeKey(definitionId), encodeKey(sourceId));
    if (!row) return null;
    return { definitionId, sourceId, position: getText(row, 'position') ?? null, mappingVersion: num(row, 'mappingVersion'), updatedAt: str(row, 'updatedAt') };
  }

  async putCursor(cursor: CursorRecord): Promise<void> {
    const entity: Props = {
      partitionKey: encodeKey(cursor.definitionId),
      rowKey: encodeKey(cursor.sourceId),
      mappingVersion: cursor.mappingVersion,
      updatedAt: new Date().toISOString(),
    };
    putText(entity, 'position', cursor.position);
    await this.tables.upsert('Cursors', entity, 'the cursor position');
  }
}
