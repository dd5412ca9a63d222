import type { SyncDefinition } from '../../core/definitions';
import { identityHash } from '../../core/identity';
import type { ResolvedMapping } from '../../core/mapping';
import type { CursorPosition, ExactValue, Row, SourceDatabase } from '../../core/ports/source';
import type { CursorRecord, FailureRecord, RunMode } from '../../core/ports/state';

/**
 * Where this run starts reading: from the beginning on a full run, a first run or after a
 * mapping change (a rescan: content hashes keep the writes to rows that really changed), else
 * at the stored cursor.
 */
export function startPosition(cursor: CursorRecord | null, mode: RunMode, mappingVersion: number, mappingChanged: boolean): CursorPosition | null {
  const rescan = mode === 'full' || !cursor || cursor.mappingVersion !== mappingVersion || mappingChanged;
  if (rescan || !cursor.position) return null;
  return JSON.parse(cursor.position) as CursorPosition;
}

export interface ChangeScan {
  def: SyncDefinition;
  mapping: ResolvedMapping;
  start: CursorPosition | null;
  /** Fixed at the run's start, so rows written during the run wait for the next one. */
  highWater: ExactValue | null;
  pageSize: number;
}

/** How far a run's reads got: `passDone` = everything up to the high-water mark was read (then `next` is null). */
export interface PassProgress {
  next: CursorPosition | null;
  passDone: boolean;
}

/**
 * Reads the changes since `start`, page by page, up to the high-water mark and at most the
 * definition's `maxRowsPerRun` rows. Each page is planned before the next is read, so memory
 * holds one page whatever the table's size.
 */
export async function readChangesSinceCursor(source: Pick<SourceDatabase, 'readChanges'>, scan: ChangeScan, onPage: (rows: Row[]) => Promise<void>): Promise<PassProgress> {
  const { def, mapping, highWater } = scan;
  let position = scan.start;
  let readInRun = 0;
  for (;;) {
    const limit = Math.min(scan.pageSize, def.maxRowsPerRun - readInRun);
    if (limit <= 0) return { next: position, passDone: false };
    const page = await source.readChanges({ table: def.table, columns: mapping.readColumns, key: mapping.key, cursor: def.cursor, after: position, highWater, limit });
    readInRun += page.rows.length;
    await onPage(page.rows);
    if (page.next === null) return { next: null, passDone: true };
    position = page.next;
  }
}

/**
 * Re-reads by key the failure-list rows due for another attempt. `gone` names the failures
 * whose row no longer exists in the source: nothing is left to retry.
 */
export async function readDueFailures(source: Pick<SourceDatabase, 'readByKeys'>, def: SyncDefinition, mapping: ResolvedMapping, due: FailureRecord[]): Promise<{ rows: Row[]; gone: string[] }> {
  const rows = await source.readByKeys(def.table, mapping.readColumns, mapping.key, due.map((f) => f.key));
  const found = new Set(rows.map((r) => identityHash(mapping.key.map((k) => r[k]), mapping.keyHints)));
  return { rows, gone: due.filter((f) => !found.has(f.identityHash)).map((f) => f.identityHash) };
}
