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
