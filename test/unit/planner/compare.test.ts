import { compareWithLedger, type RowDestination } from '../../../src/sync/plan/compare';
import { contentHash, fieldHashes } from '../../../src/core/identity';
import type { MappedRow } from '../../../src/core/mapping';
import { mapped, order, syncedEntry } from './fixtures';

/** One row against its ledger entry: what SharePoint needs for it. */

const names = new Map([['list-eu', 'Orders Europe'], ['list-other', 'Orders Other']]);
const toEurope: RowDestination = { kind: 'list', listName: 'Orders Europe', list: { kind: 'provisioned', listId: 'list-eu' } };
const softDeleted: RowDestination = { kind: 'softDeleted' };
const row = mapped(order(1));
const MAPPING = 'mapping-hash-1';

describe('comparing a row with the ledger', () => {
  it('a row the ledger does not know becomes a create in its shard list', () => {
    expect(compareWithLedger(row, toEurope, undefined, names, MAPPING)).toEqual({
      op: 'create',
      list: 'Orders Europe',
      to: { kind: 'provisioned', listId: 'list-eu' },
      write: { identityHash: row.identity, kind: 'create', fields: row.fields, contentHash: row.contentHash, key: [1], fieldHashes: fieldHashes(row.fields, MAPPING) },
    });
  });

  it('a row whose create is still pending is created again (the writer adopts the item by SyncKey)', () => {
    const pending = syncedEntry(row, 'list-eu', 'item-7', { state: 'pending' });
    expect(compareWithLedger(row, toEurope, pending, names, MAPPING)).toMatchObject({ op: 'create', list: 'Orders Europe' });
    expect(compareWithLedger(row, toEurope, { ...pending, itemId: null, state: 'synced' }, names, MAPPING)).toMatchObject({ op: 'create' });
  });

  it('a row whose content changed becomes an update of the ledger\'s item', () => {
    const entry = syncedEntry(row, 'list-eu', 'item-7', { contentHash: 'older' });
    expect(compareWithLedger(row, toEurope, entry, names, MAPPING)).toEqual({
      op: 'update',
      list: 'Orders Europe',
      listId: 'list-eu',
      write: { identityHash: row.identity, kind: 'update', itemId: 'item-7', fields: row.fields, contentHash: row.contentHash, key: [1], fieldHashes: fieldHashes(row.fields, MAPPING) },
    });
  });

  it('an update of one field sends that field only, when the ledger knows the item\'s fields', () => {
    const wide = (customer: string): MappedRow => {
      const fields = { customer, Region: 'EU', Placed: '2026-03-01T10:00:00Z' };
      return { identity: row.identity, key: [1], fields, contentHash: contentHash(fields) };
    };
    const before = wide('c1');
    const after = wide('changed');
    const entry = syncedEntry(before, 'list-eu', 'item-7', { fieldHashes: { contentHash: before.contentHash, byField: fieldHashes(before.fields, MAPPING) } });
    expect(compareWithLedger(after, toEurope, entry, names, MAPPING)).toMatchObject({ op: 'update', write: { changedFields: ['customer'], fields: after.fields } });
  });

  it('every field is sent after a mapping change, for content in doubt, or when the field hashes describe other content', () => {
    const before = mapped(order(1, { customer: 'changed' }));
    const known = { contentHash: before.contentHash, byField: fieldHashes(before.fields, MAPPING) };
    const decide = (extra: Parameters<typeof syncedEntry>[3], mappingHash = MAPPING) =>
      compareWithLedger(row, toEurope, syncedEntry(before, 'list-eu', 'item-7', extra), names, mappingHash);
    expect(decide({ fieldHashes: known }, 'mapping-hash-2')).toMatchObject({ op: 'update' });
    expect((decide({ fieldHashes: known }, 'mapping-hash-2') as { write: object }).write).not.toHaveProperty('changedFields');
    expect((decide({ fieldHashes: known, contentInDoubt: true }) as { write: object }).write).not.toHaveProperty('changedFields');
    expect((decide({ fieldHashes: { ...known, contentHash: 'other' } }) as { write: object }).write).not.toHaveProperty('changedFields');
    expect((decide({ fieldHashes: null }) as { write: object }).write).not.toHaveProperty('changedFields');
  });

  it('a row whose mapped content is unchanged needs no write', () => {
    expect(compareWithLedger(row, toEurope, syncedEntry(row, 'list-eu', 'item-7'), names, MAPPING)).toEqual({ op: 'unchanged', list: 'Orders Europe', identityHash: row.identity });
  });

  it('an entry whose content is in doubt (two batches raced) is rewritten even when the hashes agree', () => {
    expect(compareWithLedger(row, toEurope, syncedEntry(row, 'list-eu', 'item-7', { contentInDoubt: true }), names, MAPPING)).toMatchObject({ op: 'update', listId: 'list-eu', write: { itemId: 'item-7', contentHash: row.contentHash } });
  });

  it('a row whose shard changed becomes a move from the ledger\'s item', () => {
    const entry = syncedEntry(row, 'list-other', 'item-7');
    expect(compareWithLedger(row, toEurope, entry, names, MAPPING)).toEqual({
      op: 'move',
      list: 'Orders Europe',
      fromList: 'Orders Other',
      from: { listId: 'list-other', itemId: 'item-7' },
      to: { kind: 'provisioned', listId: 'list-eu' },
      row,
    });
  });

  it('a half-done move is finished from the item it started from', () => {
    const entry = syncedEntry(row, 'list-eu', 'item-9', { state: 'moving', movedFrom: { listId: 'list-other', itemId: 'item-7' } });
    expect(compareWithLedger(row, toEurope, entry, names, MAPPING)).toMatchObject({ op: 'move', fromList: 'Orders Other', from: { listId: 'list-other', itemId: 'item-7' } });
  });

  it('a list the ledger names but the run does not know is shown by its id', () => {
    const entry = syncedEntry(row, 'list-gone', 'item-7');
    expect(compareWithLedger(row, toEurope, entry, names, MAPPING)).toMatchObject({ op: 'move', fromList: 'list-gone' });
  });

  it('on a dry run, a row bound for a list not yet provisioned is planned as a create or a move there', () => {
    const toNewList: RowDestination = { kind: 'list', listName: 'Orders Asia', list: { kind: 'wouldProvision' } };
    expect(compareWithLedger(row, toNewList, undefined, names, MAPPING)).toMatchObject({ op: 'create', list: 'Orders Asia', to: { kind: 'wouldProvision' } });
    expect(compareWithLedger(row, toNewList, syncedEntry(row, 'list-eu', 'item-7'), names, MAPPING)).toMatchObject({ op: 'move', list: 'Orders Asia', fromList: 'Orders Europe', to: { kind: 'wouldProvision' } });
  });

  it('a soft-deleted row with an item becomes a delete in the item\'s list', () => {
    expect(compareWithLedger(row, softDeleted, syncedEntry(row, 'list-other', 'item-7'), names, MAPPING)).toEqual({
      op: 'delete',
      list: 'Orders Other',
      listId: 'list-other',
      write: { identityHash: row.identity, kind: 'delete', itemId: 'item-7', contentHash: '', key: [1] },
    });
  });

  it('a soft-deleted row never synced has nothing to delete', () => {
    expect(compareWithLedger(row, softDeleted, undefined, names, MAPPING)).toEqual({ op: 'nothingToDelete', identityHash: row.identity });
  });

  it('a soft-deleted row whose create is pending is handed on to have its item looked up (the create may have reached SharePoint)', () => {
    const pending = syncedEntry(row, 'list-eu', 'x', { itemId: null, state: 'pending' });
    expect(compareWithLedger(row, softDeleted, pending, names, MAPPING)).toEqual({ op: 'deletePending', entry: pending });
  });
});
