import type { ColumnInfo, TableSchema } from '../../src/core/ports/source';
import { diffSchemas, type MappedColumns } from '../../src/core/schema-diff';
import { column } from './fixtures';

function table(columns: ColumnInfo[], primaryKey: string[] | null = ['id']): TableSchema {
  return { engine: 'postgres', table: { schema: 'sales', name: 'orders' }, kind: 'table', columns, primaryKey, uniqueConstraints: [], indexes: [] };
}

const stored = table([
  column('id', 'int', { nullable: false }),
  column('name', 'text', { maxLength: 50, nativeType: 'varchar(50)' }),
  column('amount', 'decimal', { precision: 12, scale: 2, nativeType: 'numeric(12,2)' }),
  column('status', 'enum', { enumValues: ['new', 'done'], nativeType: 'order_status' }),
  column('updated_at', 'timestamptz'),
  column('region', 'text', { maxLength: 10 }),
  column('legacy', 'text'),
  column('big', 'bigint'),
]);

const mapped: MappedColumns = {
  fields: [{ column: 'name' }, { column: 'amount' }, { column: 'status' }, { column: 'big', spType: 'text' }],
  key: ['id'],
  cursorColumn: 'updated_at',
  other: ['region'],
};

function replace(name: string, col: ColumnInfo | null, base: TableSchema = stored): TableSchema {
  const columns = base.columns.flatMap((x) => (x.name === name ? (col ? [col] : []) : [x]));
  return { ...base, columns };
}

describe('schema drift before a run', () => {
  it('an unchanged table has no changes', () => {
    expect(diffSchemas(stored, stored, mapped)).toMatchObject({ changes: [], hasBreaking: false });
  });

  it('a dropped mapped column stops the run, naming the column', () => {
    const d = diffSchemas(stored, replace('name', null), mapped);
    expect(d.hasBreaking).toBe(true);
    expect(d.breaking).toEqual([expect.objectContaining({ kind: 'column_dropped', column: 'name', message: expect.stringContaining('"name"') })]);
  });

  it('dropping a key, cursor or routing column is breaking too', () => {
    expect(diffSchemas(stored, replace('updated_at', null), mapped).breaking[0]).toMatchObject({ kind: 'column_dropped', column: 'updated_at' });
    expect(diffSchemas(stored, replace('region', null), mapped).breaking[0]).toMatchObject({ kind: 'column_dropped', column: 'region' });
    expect(diffSchemas(stored, replace('id', null), mapped).hasBreaking).toBe(true);
  });

  it('a retyped mapped column whose values no longer fit its SharePoint column is breaking', () => {
    const d = diffSchemas(stored, replace('amount', column('amount', 'text', { nativeType: 'text' })), mapped);
    expect(d.breaking).toEqual([expect.objectContaining({ kind: 'type_changed', column: 'amount', message: expect.stringMatching(/numeric\(12,2\) to text/) })]);
  });

  it('a retype that still fits the chosen SharePoint type is additive', () => {
    // big is mapped to text: int → still text-representable
    const d = diffSchemas(stored, replace('big', column('big', 'int')), mapped);
    expect(d.hasBreaking).toBe(false);
    expect(d.additive).toEqual([expect.objectContaining({ kind: 'type_widened', column: 'big' })]);
  });

  it('a widened text column is additive; past 255 characters a single line of text no longer fits', () => {
    const wider = diffSchemas(stored, replace('name', column('name', 'text', { maxLength: 100, nativeType: 'varchar(100)' })), mapped);
    expect(wider.hasBreaking).toBe(false);
    expect(wider.additive).toEqual([expect.objectContaining({ kind: 'length_widened', column: 'name' })]);
    const tooWide = diffSchemas(stored, replace('name', column('name', 'text', { maxLength: 1000, nativeType: 'varchar(1000)' })), mapped);
    expect(tooWide.breaking).toEqual([expect.objectContaining({ kind: 'type_changed', column: 'name', message: expect.stringContaining('map it to note') })]);
  });

  it('a narrowed column is only informational', () => {
    const d = diffSchemas(stored, replace('name', column('name', 'text', { maxLength: 20, nativeType: 'varchar(20)' })), mapped);
    expect(d.hasBreaking).toBe(false);
    expect(d.changes).toEqual([expect.objectContaining({ kind: 'length_narrowed', severity: 'info' })]);
  });

  it('a new column and a new enum label are reported as additive', () => {
    const fresh = { ...replace('status', column('status', 'enum', { enumValues: ['new', 'done', 'cancelled'], nativeType: 'order_status' })) };
    fresh.columns = [...fresh.columns, column('discount', 'decimal', { nativeType: 'numeric(5,2)' })];
    const d = diffSchemas(stored, fresh, mapped);
    expect(d.hasBreaking).toBe(false);
    expect(d.additive.map((x) => [x.kind, x.column])).toEqual([
      ['enum_values_added', 'status'],
      ['column_added', 'discount'],
    ]);
  });

  it('more decimal places are additive, fewer are informational', () => {
    const more = diffSchemas(stored, replace('amount', column('amount', 'decimal', { precision: 14, scale: 4, nativeType: 'numeric(14,4)' })), mapped);
    expect(more.additive[0]).toMatchObject({ kind: 'scale_changed', column: 'amount' });
    const fewer = diffSchemas(stored, replace('amount', column('amount', 'decimal', { precision: 12, scale: 0, nativeType: 'numeric(12,0)' })), mapped);
    expect(fewer.changes[0]).toMatchObject({ severity: 'info' });
  });

  it('a key column that changes type, or a changed primary key, is breaking', () => {
    const retyped = diffSchemas(stored, replace('id', column('id', 'bigint', { nullable: false })), mapped);
    expect(retyped.breaking).toEqual([expect.objectContaining({ kind: 'key_changed', column: 'id' })]);
    const newPk = diffSchemas(stored, { ...stored, primaryKey: ['id', 'region'] }, mapped);
    expect(newPk.breaking).toEqual([expect.objectContaining({ kind: 'key_changed', message: expect.stringContaining('(id, region)') })]);
  });

  it('a cursor column that changes type is breaking', () => {
    const d = diffSchemas(stored, replace('updated_at', column('updated_at', 'timestamp')), mapped);
    expect(d.breaking).toEqual([expect.objectContaining({ kind: 'cursor_changed', column: 'updated_at' })]);
  });

  it('an unmapped column dropped is informational only', () => {
    const d = diffSchemas(stored, replace('legacy', null), mapped);
    expect(d.hasBreaking).toBe(false);
    expect(d.changes).toEqual([expect.objectContaining({ kind: 'unmapped_column_dropped', column: 'legacy', severity: 'info' })]);
  });
});
