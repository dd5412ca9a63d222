import type { MoveOpMessage, WriteOpMessage } from '../../../src/core/messages';
import { batchMessages } from '../../../src/sync/plan/emit';
import { identityOf } from './fixtures';

/** Fan-out: planned ops become queue messages that fit the transport's limits. */

const write = (id: number, text = 'x'): WriteOpMessage => ({ identityHash: identityOf(id), kind: 'create', fields: { Title: text }, contentHash: 'h', key: [id] });
const move = (id: number, text = 'x'): MoveOpMessage => ({ identityHash: identityOf(id), from: { listId: 'list-other', itemId: `item-${id}` }, toListId: 'list-eu', fields: { Title: text }, contentHash: 'h', key: [id] });
const address = { definitionId: 'orders', runId: 'run-1', siteId: 'site-1' };
const limits = { writeBatchMaxOps: 2, messageMaxBytes: 2000 };

describe('fanning out batches', () => {
  it('writes are batched per list, at most writeBatchMaxOps each, then moves; batch ids number them in order', () => {
    const plan = { writes: new Map([['list-eu', [write(1), write(2), write(3)]], ['list-other', [write(4)]]]), moves: [move(5)] };
    const { writes, moves, tooLarge } = batchMessages(plan, address, limits);
    expect(tooLarge).toEqual([]);
    expect(writes.map((m) => m.messageId)).toEqual(['run-1:w0', 'run-1:w1', 'run-1:w2']);
    expect(writes[0]).toEqual({ messageId: 'run-1:w0', body: { definitionId: 'orders', runId: 'run-1', batchId: 'run-1:w0', siteId: 'site-1', listId: 'list-eu', ops: [write(1), write(2)] } });
    expect(writes.map((m) => (m.body as { listId: string }).listId)).toEqual(['list-eu', 'list-eu', 'list-other']);
    expect(moves).toEqual([{ messageId: 'run-1:m3', body: { definitionId: 'orders', runId: 'run-1', batchId: 'run-1:m3', siteId: 'site-1', moves: [move(5)] } }]);
  });

  it('a batch too large for a message fails that row with row_too_large; the rest is sent', () => {
    const huge = write(2, 'y'.repeat(3000));
    const plan = { writes: new Map([['list-eu', [write(1), huge]]]), moves: [move(3, 'z'.repeat(3000))] };
    const { writes, moves, tooLarge } = batchMessages(plan, address, limits);
    expect(writes.map((m) => (m.body as { ops: WriteOpMessage[] }).ops)).toEqual([[write(1)]]);
    expect(moves).toEqual([]);
    expect(tooLarge).toEqual([
      { identityHash: identityOf(2), key: [2], error: `row_too_large: the row's mapped fields (${Buffer.byteLength(JSON.stringify(huge))} bytes) exceed the 2000-byte message limit` },
      { identityHash: identityOf(3), key: [3], error: "row_too_large: the row's mapped fields exceed the 2000-byte message limit" },
    ]);
  });

  it('rows that fit together are split by bytes as well as by count', () => {
    const plan = { writes: new Map([['list-eu', [write(1, 'a'.repeat(600)), write(2, 'b'.repeat(600))]]]), moves: [] };
    expect(batchMessages(plan, address, limits).writes).toHaveLength(2);
  });

  it('nothing planned sends nothing', () => {
    expect(batchMessages({ writes: new Map(), moves: [] }, address, limits)).toEqual({ writes: [], moves: [], tooLarge: [] });
  });
});
