import type { MoveRecord, MoveStore, Page } from '../../core/ports/state';
import { isoOrThrow, pageRequest, type PageRequest } from './common';

/** The audit of items moved between shard lists, for every backend: recorded once per move id, listed newest first. */

export interface MoveStorage {
  /** Records the move unless one with its id is recorded already. */
  insertOnce(move: MoveRecord): Promise<void>;
  /** The definition's moves newest first, from the page token `request.next`. */
  page(definitionId: string, request: PageRequest): Promise<Page<MoveRecord>>;
}

export class Moves implements MoveStore {
  constructor(private readonly storage: MoveStorage) {}

  async addMove(move: MoveRecord): Promise<void> {
    isoOrThrow(move.at, 'at');
    await this.storage.insertOnce(move);
  }

  listMoves(definitionId: string, opts?: { limit?: number; next?: string }): Promise<Page<MoveRecord>> {
    return this.storage.page(definitionId, pageRequest(opts));
  }
}
