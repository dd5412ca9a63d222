import type { TableEntity } from '@azure/data-tables';
import type { MoveRecord, Page } from '../../../core/ports/state';
import type { PageRequest } from '../common';
import type { MoveStorage } from '../moves';
import { encodeKey, invertedTime, str, type Props } from './keys';
import { after, fail, isStatus, type Row, type StateTables } from './tables';

/** Moves in `<p>Moves`: PK = definition, a `g_<moveId>` guard row and a `t_<inverted at>_<moveId>` listing row. */
export class TableMoveStorage implements MoveStorage {
  constructor(private readonly tables: StateTables) {}

  async insertOnce(move: MoveRecord): Promise<void> {
    const pk = encodeKey(move.definitionId);
    const id = encodeKey(move.moveId);
    const listing: Props = {
      partitionKey: pk,
      rowKey: `t_${invertedTime(Date.parse(move.at))}_${id}`,
      moveId: move.moveId,
      identityHash: move.identityHash,
      fromListId: move.from.listId,
      fromItemId: move.from.itemId,
      toListId: move.to.listId,
      toItemId: move.to.itemId,
      at: move.at,
    };
    if (move.runId !== undefined) listing.runId = move.runId;
    try {
      // The guard row makes a redelivered move record itself once.
      await this.tables.client.Moves.submitTransaction([
        ['create', { partitionKey: pk, rowKey: `g_${id}` }],
        ['create', listing as TableEntity],
      ]);
    } catch (error) {
      if (isStatus(error, 409)) return;
      fail(error, 'recording a move');
    }
  }

  page(definitionId: string, request: PageRequest): Promise<Page<MoveRecord>> {
    return this.tables.page('Moves', encodeKey(definitionId), { ge: 't_', lt: after('t_') }, request, (row) => toMove(definitionId, row));
  }
}

function toMove(definitionId: string, row: Row): MoveRecord {
  const move: MoveRecord = {
    definitionId,
    moveId: str(row, 'moveId') ?? '',
    identityHash: str(row, 'identityHash') ?? '',
    from: { listId: str(row, 'fromListId') ?? '', itemId: str(row, 'fromItemId') ?? '' },
    to: { listId: str(row, 'toListId') ?? '', itemId: str(row, 'toItemId') ?? '' },
    at: str(row, 'at') ?? '',
  };
  const runId = str(row, 'runId');
  if (runId !== undefined) move.runId = runId;
  return move;
}
