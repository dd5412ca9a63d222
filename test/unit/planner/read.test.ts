import type { ChangeReadRequest, ChangeReadResult, CursorPosition, Row } from '../../../src/core/ports/source';
import type { CursorRecord, FailureRecord } from '../../../src/core/ports/state';
import { readChangesSinceCursor, readDueFailures, startPosition } from '../../../src/sync/plan/read';
import { identityOf, order, ordersDefinition, ordersMapping } from './fixtures';

/** Where a run starts reading, how far it reads, and which failure-list rows it re-reads. */

const at = (n: number): CursorPosition => ({ at: 'row', value: null, key: [String(n)] });
const cursor = (extra: Partial<CursorRecord> = {}): CursorRecord => ({ definitionId: 'orders', sourceId: 'pg', position: JSON.stringify(at(7)), mappingVersion: 2, ...extra });

describe('where a run starts', () => {
  it('an incremental run continues at the stored cursor', () => {
    expect(startPosition(cursor(), 'incremental', 2, false)).toEqual(at(7));
    expect(startPosition(cursor({ position: null }), 'incremental', 2, false)).toBeNull();
  });

  it('a first run, a full run, a newer mapping and a dry run that sees a changed mapping all rescan', () => {
    expect(startPosition(null, 'incremental', 2, false)).toBeNull();
    expect(startPosition(cursor(), 'full', 2, false)).toBeNull();
    expect(startPosition(cursor({ mappingVersion: 1 }), 'incremental', 2, false)).toBeNull();
    expect(startPosition(cursor(), 'dryRun', 2, true)).toBeNull();
  });
});

/** A table of `total` rows served in keyset pages, recording each request. */
function pagedSource(total: number) {
  const requests: ChangeReadRequest[] = [];
  const source = {
    async readChanges(request: ChangeReadRequest): Promise<ChangeReadResult> {
      requests.push(request);
      const from = request.after?.at === 'row' ? Number(request.after.key[0]) : 0;
      const ids = Array.from({ length: Math.max(0, Math.min(request.limit, total - from)) }, (_, i) => from + i + 1);
      const last = ids.at(-1) ?? from;
      return { rows: ids.map((id) => order(id)), next: last >= total ? null : at(last) };
    },
  };
  return { source, requests };
}

describe('reading the changes since the cursor', () => {
  const scan = (maxRowsPerRun: number, pageSize: number, start: CursorPosition | null = null) => ({ def: ordersDefinition({ maxRowsPerRun }), mapping: ordersMapping(), start, highWater: '2026-03-01', pageSize });

  it('reads page by page up to the high-water mark, handing over each page before the next read', async () => {
    const { source, requests } = pagedSource(5);
    const seen: number[][] = [];
    const progress = await readChangesSinceCursor(source, scan(100, 2), async (rows: Row[]) => {
      seen.push(rows.map((r) => r.id as number));
      expect(requests).toHaveLength(seen.length);
    });
    expect(progress).toEqual({ next: null, passDone: true });
    expect(seen).toEqual([[1, 2], [3, 4], [5]]);
    expect(requests.map((r) => [r.after, r.limit, r.highWater])).toEqual([[null, 2, '2026-03-01'], [at(2), 2, '2026-03-01'], [at(4), 2, '2026-03-01']]);
  });

  it('stops at maxRowsPerRun and says where the continuation resumes', async () => {
    const { source, requests } = pagedSource(10);
    const progress = await readChangesSinceCursor(source, scan(5, 2), async () => {});
    expect(progress).toEqual({ next: at(5), passDone: false });
    expect(requests.map((r) => r.limit)).toEqual([2, 2, 1]);
  });

  it('resumes after the start position', async () => {
    const { source } = pagedSource(4);
    const seen: unknown[] = [];
    await readChangesSinceCursor(source, scan(100, 10, at(2)), async (rows) => void seen.push(...rows.map((r) => r.id)));
    expect(seen).toEqual([3, 4]);
  });
});

describe('re-reading the failure list', () => {
  const failure = (id: number): FailureRecord => ({ definitionId: 'orders', identityHash: identityOf(id), key: [id], attempts: 1, lastError: 'bad', quarantined: false, firstFailedAt: 't', lastFailedAt: 't' });

  it('reads the due rows by key; a row no longer in the source has nothing left to retry', async () => {
    const asked: unknown[][][] = [];
    const source = {
      async readByKeys(_table: unknown, _columns: string[], _key: string[], keyValues: unknown[][]) {
        asked.push(keyValues);
        return [order(1)];
      },
    };
    const { rows, gone } = await readDueFailures(source, ordersDefinition(), ordersMapping(), [failure(1), failure(2)]);
    expect(asked).toEqual([[[1], [2]]]);
    expect(rows).toEqual([order(1)]);
    expect(gone).toEqual([identityOf(2)]);
  });
});
