import { isSyncError } from '../../src/core/errors';
import type { ColumnDataType, ColumnInfo } from '../../src/core/ports/source';
import { proposeColumn, SP_NOTE_MAX, toGraphValue, type SpType } from '../../src/core/typemap';
import * as fixtures from './fixtures';

/** Most of these tests are about the type alone, so the column's name is a placeholder. */
const column = (dataType: ColumnDataType, extra?: Partial<ColumnInfo>): ColumnInfo => fixtures.column('c', dataType, extra);

function skipped(fn: () => unknown, code: string): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(isSyncError(error, code)).toBe(true);
  expect((error as { errorClass: string }).errorClass).toBe('skippable');
}

describe('proposing SharePoint columns', () => {
  it.each<[string, ColumnInfo, SpType | null, Record<string, unknown>]>([
    ['int → whole number', column('int', { nativeType: 'integer' }), 'number', { decimalPlaces: 0, graph: { number: { decimalPlaces: 'none' } } }],
    ['bigint → text, since a double cannot hold it', column('bigint'), 'text', { maxLength: 20 }],
    ['numeric(12,2) → number with 2 places', column('decimal', { precision: 12, scale: 2 }), 'number', { decimalPlaces: 2, graph: { number: { decimalPlaces: 'two' } } }],
    ['double → number, automatic places', column('float', { precision: 53 }), 'number', { graph: { number: { decimalPlaces: 'automatic' } } }],
    ['money → currency', column('money', { scale: 2 }), 'currency', { graph: { currency: {} } }],
    ['boolean/bit → Yes/No', column('boolean'), 'boolean', { graph: { boolean: {} } }],
    ['varchar(50) → text(50)', column('text', { maxLength: 50 }), 'text', { maxLength: 50, graph: { text: { allowMultipleLines: false, maxLength: 50 } } }],
    ['varchar(255) → text(255)', column('text', { maxLength: 255 }), 'text', { maxLength: 255 }],
    ['varchar(256) → note', column('text', { maxLength: 256 }), 'note', { graph: { text: { allowMultipleLines: true, textType: 'plain' } } }],
    ['text (unbounded) → note', column('text'), 'note', {}],
    ['char(3) → text(3)', column('char', { maxLength: 3 }), 'text', { maxLength: 3 }],
    ['date → date only', column('date'), 'dateOnly', { graph: { dateTime: { format: 'dateOnly', displayAs: 'default' } } }],
    ['timestamp → date and time', column('timestamp'), 'dateTime', { graph: { dateTime: { format: 'dateTime', displayAs: 'default' } } }],
    ['timestamptz → date and time', column('timestamptz'), 'dateTime', {}],
    ['time → text', column('time'), 'text', {}],
    ['uuid → text(36)', column('uuid'), 'text', { maxLength: 36 }],
    ['json → note', column('json'), 'note', {}],
    ['xml → note', column('xml'), 'note', {}],
    [
      'enum → choice with its labels',
      column('enum', { enumValues: ['red', 'green'] }),
      'choice',
      { choices: ['red', 'green'], graph: { choice: { choices: ['red', 'green'], allowTextEntry: false, displayAs: 'dropDownMenu' } } },
    ],
    ['bytea → unsupported', column('binary', { nativeType: 'bytea' }), null, { supported: false, graph: null }],
    ['rowversion → unsupported', column('rowversion', { isRowVersion: true }), null, { supported: false }],
    ['interval → unsupported unless forced', column('other', { nativeType: 'interval' }), null, { supported: false }],
  ])('%s', (_name, col, spType, extra) => {
    const p = proposeColumn(col);
    expect(p.spType).toBe(spType);
    expect(p.supported).toBe(spType !== null);
    expect(p).toMatchObject(extra);
    expect(p.reason.length).toBeGreaterThan(0);
  });

  it('warns that decimals with more than 15 significant digits lose precision in SharePoint', () => {
    expect(proposeColumn(column('decimal', { precision: 18, scale: 4 })).warnings.join(' ')).toMatch(/15 significant digits/);
    expect(proposeColumn(column('decimal', { precision: 15, scale: 4 })).warnings).toEqual([]);
    expect(proposeColumn(column('decimal')).warnings.join(' ')).toMatch(/15 significant digits/); // unconstrained numeric
  });

  it('more than 5 decimal places are shown automatically', () => {
    expect(proposeColumn(column('decimal', { precision: 12, scale: 8 }))).toMatchObject({ decimalPlaces: 8, graph: { number: { decimalPlaces: 'automatic' } } });
  });

  it('an admin may force bigint to number, with a warning about 2^53', () => {
    const p = proposeColumn(column('bigint'), 'number');
    expect(p).toMatchObject({ spType: 'number', supported: true, decimalPlaces: 0 });
    expect(p.warnings.join(' ')).toMatch(/2\^53/);
  });

  it('an incompatible override is reported, not applied', () => {
    expect(proposeColumn(column('json'), 'number')).toMatchObject({ supported: false, spType: null });
    expect(proposeColumn(column('binary'), 'text')).toMatchObject({ supported: false });
    expect(proposeColumn(column('other'), 'note')).toMatchObject({ supported: true, spType: 'note' });
  });

  it('text forced onto a long column warns that long values will fail per row', () => {
    const p = proposeColumn(column('text', { maxLength: 1000 }), 'text');
    expect(p.maxLength).toBe(255);
    expect(p.warnings.join(' ')).toMatch(/255/);
  });

  it('a timestamp forced to date only warns that the time is dropped', () => {
    expect(proposeColumn(column('timestamptz'), 'dateOnly').warnings.join(' ')).toMatch(/time of day/);
  });
});

describe('converting values to Graph fields', () => {
  const p = (col: ColumnInfo, sp?: SpType) => proposeColumn(col, sp);

  it('NULL is null for every SharePoint type', () => {
    for (const sp of ['text', 'note', 'number', 'currency', 'boolean', 'dateTime', 'dateOnly', 'choice'] as SpType[]) {
      expect(toGraphValue(null, column('text'), sp)).toBeNull();
      expect(toGraphValue(undefined, column('int'), sp)).toBeNull();
    }
  });

  it('numbers: ints, pg decimals as strings, bigint values within 2^53', () => {
    expect(toGraphValue(42, column('int'), 'number')).toBe(42);
    expect(toGraphValue('1234.50', column('decimal', { scale: 2 }), 'number')).toBe(1234.5);
    expect(toGraphValue('-0.001', column('decimal'), 'number')).toBe(-0.001);
    expect(toGraphValue('1e3', column('float'), 'number')).toBe(1000);
    expect(toGraphValue(9007199254740991n, column('bigint'), 'number')).toBe(9007199254740991);
    expect(toGraphValue('9007199254740991', column('bigint'), 'number')).toBe(9007199254740991);
    expect(toGraphValue(true, column('boolean'), 'number')).toBe(1);
    expect(toGraphValue('12.34', column('money'), 'currency')).toBe(12.34);
  });

  it('a bigint beyond 2^53 forced to number is refused per row rather than silently rounded', () => {
    skipped(() => toGraphValue('9007199254740993', column('bigint'), 'number'), 'value_out_of_range');
    skipped(() => toGraphValue(-9007199254740993n, column('bigint'), 'number'), 'value_out_of_range');
  });

  it('non-finite and non-numeric values are refused per row', () => {
    skipped(() => toGraphValue(Number.NaN, column('float'), 'number'), 'value_unrepresentable');
    skipped(() => toGraphValue(Infinity, column('float'), 'number'), 'value_unrepresentable');
    skipped(() => toGraphValue('NaN', column('decimal'), 'number'), 'value_unrepresentable');
    skipped(() => toGraphValue('Infinity', column('float'), 'number'), 'value_unrepresentable');
    skipped(() => toGraphValue('12abc', column('decimal'), 'number'), 'value_unrepresentable');
    skipped(() => toGraphValue(new Date(), column('int'), 'number'), 'value_unrepresentable');
    skipped(() => toGraphValue('1e400', column('float'), 'number'), 'value_unrepresentable');
  });

  it('booleans from bit, pg booleans and their text forms', () => {
    expect(toGraphValue(true, column('boolean'), 'boolean')).toBe(true);
    expect(toGraphValue(0, column('boolean'), 'boolean')).toBe(false);
    expect(toGraphValue('t', column('boolean'), 'boolean')).toBe(true);
    expect(toGraphValue('false', column('boolean'), 'boolean')).toBe(false);
    skipped(() => toGraphValue('maybe', column('boolean'), 'boolean'), 'value_unrepresentable');
  });

  it('date-times are sent as UTC with seconds precision', () => {
    expect(toGraphValue(new Date('2024-03-01T10:00:00.999Z'), column('timestamptz'), 'dateTime')).toBe('2024-03-01T10:00:00Z');
    expect(toGraphValue('2024-03-01 12:00:00+02', column('timestamptz'), 'dateTime')).toBe('2024-03-01T10:00:00Z');
    expect(toGraphValue('2024-03-01T12:00:00+0200', column('timestamptz'), 'dateTime')).toBe('2024-03-01T10:00:00Z');
    // no zone in the source: read as UTC
    expect(toGraphValue('2024-03-01 10:00:00.123456', column('timestamp'), 'dateTime')).toBe('2024-03-01T10:00:00Z');
    expect(toGraphValue('2024-03-01', column('date'), 'dateTime')).toBe('2024-03-01T00:00:00Z');
  });

  it('date-only values are sent as YYYY-MM-DD, so SharePoint keeps the calendar day whatever its time zone', () => {
    expect(toGraphValue('2024-02-29', column('date'), 'dateOnly')).toBe('2024-02-29');
    expect(toGraphValue(new Date('2024-02-29T00:00:00Z'), column('date'), 'dateOnly')).toBe('2024-02-29');
    expect(toGraphValue(new Date('2024-02-29T23:30:00Z'), column('timestamptz'), 'dateOnly')).toBe('2024-02-29');
    skipped(() => toGraphValue('2023-02-29', column('date'), 'dateOnly'), 'value_unrepresentable');
  });

  it('dates outside SharePoint range (1900-01-01 to 8900-12-31) and infinities are refused per row', () => {
    skipped(() => toGraphValue('1899-12-31', column('date'), 'dateOnly'), 'value_out_of_range');
    skipped(() => toGraphValue(new Date('8901-01-01T00:00:00Z'), column('timestamptz'), 'dateTime'), 'value_out_of_range');
    skipped(() => toGraphValue(new Date('+010000-01-01T00:00:00Z'), column('timestamptz'), 'dateTime'), 'value_out_of_range');
    skipped(() => toGraphValue('infinity', column('timestamp'), 'dateTime'), 'value_unrepresentable');
    skipped(() => toGraphValue(Infinity, column('timestamptz'), 'dateTime'), 'value_unrepresentable');
    skipped(() => toGraphValue(new Date(Number.NaN), column('timestamptz'), 'dateTime'), 'value_unrepresentable');
    expect(toGraphValue('1900-01-01', column('date'), 'dateOnly')).toBe('1900-01-01');
  });

  it('text: uuids lower-cased, char padding dropped, numbers and dates in their text form', () => {
    expect(toGraphValue('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', column('uuid'), p(column('uuid')))).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(toGraphValue('ab ', column('char', { maxLength: 3 }), 'text')).toBe('ab');
    expect(toGraphValue('9223372036854775807', column('bigint'), p(column('bigint')))).toBe('9223372036854775807');
    expect(toGraphValue(12n, column('bigint'), 'text')).toBe('12');
    expect(toGraphValue('13:14:15.5', column('time'), 'text')).toBe('13:14:15.5');
    expect(toGraphValue(new Date('1970-01-01T13:14:15.500Z'), column('time'), 'text')).toBe('13:14:15.500');
    expect(toGraphValue(new Date('1970-01-01T13:14:15Z'), column('time'), 'text')).toBe('13:14:15');
    expect(toGraphValue(false, column('boolean'), 'text')).toBe('false');
    expect(toGraphValue(new Date('2024-01-01T00:00:00Z'), column('date'), 'text')).toBe('2024-01-01');
  });

  it('text longer than the column is refused per row, naming the column but not the value', () => {
    const col = column('text', { name: 'Title', maxLength: 10 });
    expect(toGraphValue('x'.repeat(10), col, p(col))).toHaveLength(10);
    let err: unknown;
    try {
      toGraphValue('secret-ish value!', col, p(col));
    } catch (e) {
      err = e;
    }
    expect(isSyncError(err, 'value_too_long')).toBe(true);
    expect((err as Error).message).toContain('"Title"');
    expect((err as Error).message).not.toContain('secret-ish');
    skipped(() => toGraphValue('x'.repeat(256), column('text'), 'text'), 'value_too_long');
    skipped(() => toGraphValue('x'.repeat(SP_NOTE_MAX + 1), column('text'), 'note'), 'value_too_long');
    expect(toGraphValue('x'.repeat(SP_NOTE_MAX), column('text'), 'note')).toHaveLength(SP_NOTE_MAX);
  });

  it('json and xml are serialised into notes', () => {
    expect(toGraphValue({ a: [1, 'b'] }, column('json'), 'note')).toBe('{"a":[1,"b"]}');
    expect(toGraphValue('{"already":"text"}', column('json'), 'note')).toBe('{"already":"text"}');
    expect(toGraphValue('<a>1</a>', column('xml'), 'note')).toBe('<a>1</a>');
    expect(toGraphValue([1, 2], column('other'), 'note')).toBe('[1,2]');
  });

  it('binary data cannot be written, even through a text override', () => {
    skipped(() => toGraphValue(Buffer.from([1, 2]), column('other'), 'text'), 'value_unrepresentable');
    skipped(() => toGraphValue('x', column('binary'), p(column('binary'))), 'value_unrepresentable');
  });

  it('enum values must be one of the choices; a label added since provisioning is refused per row', () => {
    const col = column('enum', { enumValues: ['red', 'green'] });
    expect(toGraphValue('green', col, p(col))).toBe('green');
    skipped(() => toGraphValue('blue', col, p(col)), 'value_not_a_choice');
    // free-entry choice over a text column takes anything short enough
    expect(toGraphValue('anything', column('text', { maxLength: 20 }), p(column('text', { maxLength: 20 }), 'choice'))).toBe('anything');
  });
});
