import type { SyncDefinition } from '../../../src/core/definitions';
import { identityHash } from '../../../src/core/identity';
import { mapRow, resolveMapping, type MappedRow, type ResolvedMapping } from '../../../src/core/mapping';
import type { Row, TableSchema } from '../../../src/core/ports/source';
import type { LedgerEntry } from '../../../src/core/ports/state';
import { column, ordersDefinition as baseDefinition } from '../fixtures';

/** An orders table: integer key, a short customer name, a region to shard on, a soft-delete flag and an order date. */
export const ordersTable: TableSchema = {
  engine: 'postgres',
  table: { schema: 'public', name: 'orders' },
  kind: 'table',
  columns: [
    column('id', 'int', { ordinal: 1, nativeType: 'integer', nullable: false }),
    column('customer', 'text', { ordinal: 2, nativeType: 'varchar(10)', maxLength: 10 }),
    column('region', 'text', { ordinal: 3, nativeType: 'text' }),
    column('removed', 'boolean', { ordinal: 4, nativeType: 'boolean' }),
    column('placed', 'timestamp', { ordinal: 5, nativeType: 'timestamp' }),
  ],
  primaryKey: ['id'],
  uniqueConstraints: [],
  indexes: [],
};

/** Orders sharded by region (Europe or the rest), with `extra` overriding any part. */
export const ordersDefinition = (extra: Record<string, unknown> = {}): SyncDefinition =>
  baseDefinition({ sharding: { strategy: 'rules', rules: [{ when: { column: 'region', op: 'eq', value: 'EU' }, list: 'Orders Europe' }], default: 'Orders Other' }, ...extra });

export const ordersMapping = (def: SyncDefinition = ordersDefinition()): ResolvedMapping => resolveMapping(def, ordersTable);

export const order = (id: number, extra: Partial<Row> = {}): Row => ({ id, customer: `c${id}`, region: 'EU', removed: false, placed: '2026-03-01T10:00:00Z', ...extra });

export const mapped = (row: Row, mapping: ResolvedMapping = ordersMapping()): MappedRow => mapRow(row, mapping);

export const identityOf = (id: number) => identityHash([id], ['other']);

/** A synced ledger entry for `row`, in `listId` as item `itemId`, with the row's current content unless told otherwise. */
export function syncedEntry(row: MappedRow, listId: string, itemId: string, extra: Partial<LedgerEntry> = {}): LedgerEntry {
  return { definitionId: 'orders', identityHash: row.identity, listId, itemId, contentHash: row.contentHash, state: 'synced', movedFrom: null, ...extra };
}
