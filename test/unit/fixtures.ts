import { SyncDefinitionInput, type SyncDefinition } from '../../src/core/definitions';
import type { ColumnDataType, ColumnInfo } from '../../src/core/ports/source';

/** A nullable source column with no length, precision, default or special role; `extra` overrides any of it. */
export function column(name: string, dataType: ColumnDataType, extra: Partial<ColumnInfo> = {}): ColumnInfo {
  return {
    name,
    ordinal: 1,
    dataType,
    nativeType: dataType,
    nullable: true,
    maxLength: null,
    precision: null,
    scale: null,
    default: null,
    isIdentity: false,
    isGenerated: false,
    isRowVersion: false,
    enumValues: null,
    ...extra,
  };
}

/** A valid definition syncing `public.orders` (customer → one list "Orders"); `extra` overrides any part. */
export const ordersDefinition = (extra: Record<string, unknown> = {}): SyncDefinition =>
  SyncDefinitionInput.parse({
    id: 'orders',
    sources: [{ connectionId: 'pg', role: 'primary' }],
    table: { schema: 'public', name: 'orders' },
    fields: [{ source: 'customer' }],
    cursor: { kind: 'full' },
    target: { connectionId: 'sp', siteId: 'site-1' },
    sharding: { strategy: 'none', list: 'Orders' },
    ...extra,
  });
