import { isSyncError } from '../../../core/errors';
import type { MoveRecord, Page } from '../../../core/ports/state';
import { iso, isoOrThrow, type PageRequest } from '../common';
import type { MoveStorage } from '../moves';
import { bind, placeholders, type SqlDb } from './db';
import { newestFirstPage } from './keyset';

interface MoveRow {
  move_id: string;
  identity_hash: string;
  from_list_id: string;
  from_item_id: string;
  to_list_id: string;
  to_item_id: string;
  run_id: string | null;
  at: Date;
}

/** The move audit in SQL: one row per (definition, move id). */
export class SqlMoveStorage implements MoveStorage {
  constructor(private readonly db: SqlDb) {}

  async insertOnce(m: MoveRecord): Promise<void> {
    const key = { definition_id: bind.key(m.definitionId), move_id: bind.key(m.moveId) };
    const row = {
      identity_hash: bind.key(m.identityHash),
      from_list_id: bind.key(m.from.listId),
      from_item_id: bind.key(m.from.itemId),
      to_list_id: bind.key(m.to.listId),
      to_item_id: bind.key(m.to.itemId),
      run_id: bind.key(m.runId ?? null),
      at: bind.time(isoOrThrow(m.at, 'at')),
    };
    const text = this.db.dialect.insertIfAbsent(this.table, { key: placeholders(key), values: placeholders(row) });
    await this.db.query('recording a move', text, { ...key, ...row }).catch((error: unknown) => {
      // A redelivered move records itself once; a duplicate that slipped past the check is the same move.
      if (!isSyncError(error, 'state_conflict')) throw error;
    });
  }

  page(definitionId: string, request: PageRequest): Promise<Page<MoveRecord>> {
    const listing = { table: this.table, definitionId, timeColumn: 'at', idColumn: 'move_id', what: 'listing moves' } as const;
    return newestFirstPage<MoveRow, MoveRecord>(this.db, listing, request, (r) => toMove(definitionId, r));
  }

  private get table(): string {
    return `${this.db.dialect.schema}.moves`;
  }
}

function toMove(definitionId: string, r: MoveRow): MoveRecord {
  const m: MoveRecord = {
    definitionId,
    moveId: r.move_id,
    identityHash: r.identity_hash,
    from: { listId: r.from_list_id, itemId: r.from_item_id },
    to: { listId: r.to_list_id, itemId: r.to_item_id },
    at: iso(r.at) ?? '',
  };
  if (r.run_id !== null) m.runId = r.run_id;
  return m;
}
