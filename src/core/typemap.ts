import { skippableError, type SyncError } from './errors';
import type { ColumnDataType, ColumnInfo } from './ports/source';

/**
 * Source column → SharePoint column type, and source value → Graph field value. Pure.
 *
 * Default mapping (an admin may override per field where the override is compatible):
 *
 * | source type                              | SharePoint      | why / caveat                                              |
 * |------------------------------------------|-----------------|-----------------------------------------------------------|
 * | tinyint, smallint, int                   | number, 0 dp    | fits a double exactly                                     |
 * | bigint                                   | text (20)       | a SharePoint number is a double: integers past 2^53 lose  |
 * |                                          |                 | digits. Forcing `number` is allowed; larger values are    |
 * |                                          |                 | then refused per row                                      |
 * | decimal/numeric(p,s)                     | number, s dp    | warns when p > 15 (a double keeps 15 significant digits); |
 * |                                          |                 | more than 5 places shows as "automatic"                   |
 * | real, double/float                       | number, auto dp |                                                           |
 * | money, smallmoney                        | currency        | the list's locale decides the symbol                      |
 * | boolean, bit                             | boolean (Yes/No)|                                                           |
 * | char/varchar/nvarchar(n ≤ 255)           | text, maxLength n | char(n) loses its trailing blanks                       |
 * | longer or unbounded text                 | note (plain, multi-line) | up to 63,999 characters                          |
 * | date                                     | dateOnly        | written as `YYYY-MM-DD`: SharePoint keeps the calendar day |
 * | timestamp, datetime, datetime2           | dateTime        | no zone in the source: read as UTC (documented rule)      |
 * | timestamptz, datetimeoffset              | dateTime        | converted to UTC                                          |
 * | time                                     | text            | SharePoint has no time-of-day type                        |
 * | uuid, uniqueidentifier                   | text (36)       | lower case, so both engines give the same text            |
 * | json, jsonb, xml                         | note            | serialised text                                           |
 * | PostgreSQL enum                          | choice          | the enum's labels, in their order                         |
 * | bytea, binary, varbinary, rowversion     | unsupported     | reported at provisioning, never synced                    |
 * | anything else (interval, arrays, …)      | unsupported     | may be forced to text/note (its text form)                |
 *
 * Date-times are sent as `YYYY-MM-DDTHH:mm:ssZ` (seconds: SharePoint stores no fractions; the
 * fraction is truncated). SharePoint accepts dates from 1900-01-01 to 8900-12-31.
 */

export type SpType = 'text' | 'note' | 'number' | 'currency' | 'boolean' | 'dateTime' | 'dateOnly' | 'choice';

/** SharePoint's single line of text holds at most 255 characters. */
export const SP_TEXT_MAX = 255;
/** Plain multi-line text: 63,999 characters. */
export const SP_NOTE_MAX = 63_999;
/** A SharePoint number is a double: 15 significant digits survive, integers up to 2^53 are exact. */
export const SP_NUMBER_DIGITS = 15;
export const SP_DATE_MIN = '1900-01-01';
export const SP_DATE_MAX = '8900-12-31';
const BIGINT_TEXT_LENGTH = 20; // "-9223372036854775808"
const UUID_LENGTH = 36;
const TIME_TEXT_LENGTH = 32; // "23:59:59.999999+14:00" with room to spare

export type GraphDecimalPlaces = 'automatic' | 'none' | 'one' | 'two' | 'three' | 'four' | 'five';

/** The type-specific facet of a Graph columnDefinition (`text`, `number`, …), ready to send. */
export interface GraphColumnFacet {
  text?: { allowMultipleLines: boolean; maxLength?: number; textType?: 'plain'; linesForEditing?: number; appendChangesToExistingText?: boolean };
  number?: { decimalPlaces: GraphDecimalPlaces };
  currency?: Record<string, never>;
  boolean?: Record<string, never>;
  dateTime?: { displayAs: 'default'; format: 'dateOnly' | 'dateTime' };
  choice?: { allowTextEntry: boolean; choices: string[]; displayAs: 'dropDownMenu' };
}

export interface ColumnProposal {
  column: string;
  /** null when the column cannot be synced. */
  spType: SpType | null;
  supported: boolean;
  maxLength?: number;
  decimalPlaces?: number;
  choices?: string[];
  /** Whether a choice column accepts values outside `choices`. */
  allowTextEntry?: boolean;
  graph: GraphColumnFacet | null;
  /** Why this mapping (or why none). */
  reason: string;
  warnings: string[];
}

const DEFAULTS: Record<ColumnDataType, SpType | null> = {
  int: 'number',
  bigint: 'text',
  decimal: 'number',
  float: 'number',
  money: 'currency',
  boolean: 'boolean',
  text: 'text',
  char: 'text',
  date: 'dateOnly',
  time: 'text',
  timestamp: 'dateTime',
  timestamptz: 'dateTime',
  uuid: 'text',
  json: 'note',
  xml: 'note',
  binary: null,
  enum: 'choice',
  rowversion: null,
  other: null,
};

/** Which SharePoint types each source type may be forced to. */
const ALLOWED: Record<ColumnDataType, SpType[]> = {
  int: ['number', 'currency', 'text', 'note'],
  bigint: ['text', 'note', 'number'],
  decimal: ['number', 'currency', 'text', 'note'],
  float: ['number', 'text', 'note'],
  money: ['currency', 'number', 'text', 'note'],
  boolean: ['boolean', 'text', 'note'],
  text: ['text', 'note', 'choice'],
  char: ['text', 'note', 'choice'],
  date: ['dateOnly', 'dateTime', 'text'],
  time: ['text', 'note'],
  timestamp: ['dateTime', 'dateOnly', 'text'],
  timestamptz: ['dateTime', 'dateOnly', 'text'],
  uuid: ['text', 'note'],
  json: ['note', 'text'],
  xml: ['note', 'text'],
  binary: [],
  enum: ['choice', 'text', 'note'],
  rowversion: [],
  other: ['text', 'note'],
};

/** Short text stays single-line; longer or unbounded text needs a multi-line column. */
export function defaultSpType(col: ColumnInfo): SpType | null {
  if (col.dataType === 'text' || col.dataType === 'char') return col.maxLength !== null && col.maxLength <= SP_TEXT_MAX ? 'text' : 'note';
  return DEFAULTS[col.dataType];
}

const PLACES: GraphDecimalPlaces[] = ['none', 'one', 'two', 'three', 'four', 'five'];

export function proposeColumn(col: ColumnInfo, override?: SpType): ColumnProposal {
  const warnings: string[] = [];
  const base = { column: col.name, warnings };
  const spType = override ?? defaultSpType(col);
  if (spType === null || !ALLOWED[col.dataType].includes(spType)) {
    const reason =
      override !== undefined
        ? `${col.nativeType} cannot be shown as a SharePoint ${override} column (allowed: ${ALLOWED[col.dataType].join(', ') || 'none'})`
        : col.dataType === 'binary' || col.dataType === 'rowversion'
          ? `${col.nativeType} is binary data, which SharePoint list columns cannot hold`
          : `no SharePoint mapping for ${col.nativeType}; force text or note to sync its text form`;
    return { ...base, spType: null, supported: false, graph: null, reason };
  }

  switch (spType) {
    case 'text': {
      const natural = naturalTextLength(col);
      if (natural === null || natural > SP_TEXT_MAX) warnings.push(`values longer than ${SP_TEXT_MAX} characters will be refused per row; consider note`);
      const maxLength = Math.min(natural ?? SP_TEXT_MAX, SP_TEXT_MAX);
      if (col.dataType === 'char') warnings.push('fixed-length char values lose their trailing blanks');
      return {
        ...base,
        spType,
        supported: true,
        maxLength,
        graph: { text: { allowMultipleLines: false, maxLength } },
        reason: textReason(col, maxLength),
      };
    }
    case 'note':
      return {
        ...base,
        spType,
        supported: true,
        maxLength: SP_NOTE_MAX,
        graph: { text: { allowMultipleLines: true, textType: 'plain', linesForEditing: 6, appendChangesToExistingText: false } },
        reason:
          col.dataType === 'json' || col.dataType === 'xml'
            ? `${col.nativeType} is stored as its text in a multi-line column`
            : `${col.nativeType} may exceed ${SP_TEXT_MAX} characters: multi-line text (up to ${SP_NOTE_MAX})`,
      };
    case 'number': {
      let places: number | null = 0;
      let graphPlaces: GraphDecimalPlaces = 'none';
      let reason = `${col.nativeType} is a whole number`;
      if (col.dataType === 'decimal' || col.dataType === 'money') {
        places = col.scale;
        if (places === null) {
          graphPlaces = 'automatic';
          reason = `${col.nativeType} has no declared scale: decimals shown as stored`;
        } else {
          graphPlaces = PLACES[places] ?? 'automatic';
          reason = `${col.nativeType}: ${places} decimal place(s)`;
          if (places > 5) warnings.push(`SharePoint shows at most 5 fixed decimal places; ${places} are shown automatically`);
        }
        if (col.precision === null || col.precision > SP_NUMBER_DIGITS) {
          warnings.push(`a SharePoint number keeps ${SP_NUMBER_DIGITS} significant digits; ${col.nativeType} values with more are rounded`);
        }
      } else if (col.dataType === 'float') {
        places = null;
        graphPlaces = 'automatic';
        reason = `${col.nativeType} is floating point: decimals shown as stored`;
      } else if (col.dataType === 'bigint') {
        warnings.push('forced to number: values beyond ±2^53 (9,007,199,254,740,992) cannot be stored exactly and are refused per row');
        reason = `${col.nativeType} forced to number by the definition`;
      } else if (col.dataType === 'boolean') {
        reason = `${col.nativeType} as 1/0`;
      }
      return {
        ...base,
        spType,
        supported: true,
        ...(places !== null ? { decimalPlaces: places } : {}),
        graph: { number: { decimalPlaces: graphPlaces } },
        reason,
      };
    }
    case 'currency':
      if (col.scale !== null && col.scale > 2) warnings.push(`SharePoint shows currency with the list locale's decimals (usually 2); the full value is stored`);
      if ((col.dataType === 'decimal' || col.dataType === 'money') && (col.precision === null || col.precision > SP_NUMBER_DIGITS)) {
        warnings.push(`a SharePoint currency value keeps ${SP_NUMBER_DIGITS} significant digits; larger values are rounded`);
      }
      return {
        ...base,
        spType,
        supported: true,
        ...(col.scale !== null ? { decimalPlaces: col.scale } : {}),
        graph: { currency: {} },
        reason: `${col.nativeType} is a monetary amount`,
      };
    case 'boolean':
      return { ...base, spType, supported: true, graph: { boolean: {} }, reason: `${col.nativeType} is true/false (Yes/No)` };
    case 'dateOnly':
      if (col.dataType !== 'date') warnings.push(`the time of day is dropped (the UTC date is kept)`);
      return {
        ...base,
        spType,
        supported: true,
        graph: { dateTime: { displayAs: 'default', format: 'dateOnly' } },
        reason: `${col.nativeType} is a calendar date, written as YYYY-MM-DD`,
      };
    case 'dateTime':
      if (col.precision !== null && col.precision > 0) warnings.push('fractions of a second are dropped (SharePoint stores seconds)');
      return {
        ...base,
        spType,
        supported: true,
        graph: { dateTime: { displayAs: 'default', format: 'dateTime' } },
        reason:
          col.dataType === 'timestamptz'
            ? `${col.nativeType} carries a zone: converted to UTC`
            : col.dataType === 'date'
              ? `${col.nativeType} at midnight UTC`
              : `${col.nativeType} has no zone: read as UTC`,
      };
    case 'choice': {
      const choices = col.enumValues ?? [];
      const allowTextEntry = col.dataType !== 'enum';
      return {
        ...base,
        spType,
        supported: true,
        choices,
        allowTextEntry,
        graph: { choice: { allowTextEntry, choices, displayAs: 'dropDownMenu' } },
        reason: col.dataType === 'enum' ? `enum ${col.nativeType}: its ${choices.length} label(s) become the choices` : `${col.nativeType} shown as a choice with free entry`,
      };
    }
  }
}

function naturalTextLength(col: ColumnInfo): number | null {
  switch (col.dataType) {
    case 'text':
    case 'char':
      return col.maxLength;
    case 'bigint':
      return BIGINT_TEXT_LENGTH;
    case 'uuid':
      return UUID_LENGTH;
    case 'time':
      return TIME_TEXT_LENGTH;
    case 'int':
      return 11;
    case 'boolean':
      return 5;
    case 'date':
      return 10;
    case 'timestamp':
    case 'timestamptz':
      return 24;
    default:
      return null;
  }
}

function textReason(col: ColumnInfo, maxLength: number): string {
  switch (col.dataType) {
    case 'bigint':
      return `${col.nativeType} as text: a SharePoint number (a double) cannot hold integers beyond 2^53 exactly`;
    case 'uuid':
      return `${col.nativeType} as ${UUID_LENGTH}-character lower-case text`;
    case 'time':
      return `${col.nativeType}: SharePoint has no time-of-day type`;
    default:
      return `${col.nativeType}: single line of text, up to ${maxLength} characters`;
  }
}

// ---------------------------------------------------------------------------------------------
// values

export type GraphValue = string | number | boolean | null;

/**
 * Converts a driver value to the Graph field value for the target column. A value that cannot
 * be represented (too long, out of range, not finite, not a date…) is a `skippable` SyncError:
 * the row goes to the failure list, the run goes on. Messages name the column, never the value.
 */
export function toGraphValue(value: unknown, col: ColumnInfo, target: SpType | ColumnProposal): GraphValue {
  const proposal = typeof target === 'string' ? null : target;
  const spType = typeof target === 'string' ? target : target.spType;
  if (spType === null) throw unrepresentable(col, 'the column is not mapped to SharePoint');
  if (value === null || value === undefined) return null;
  switch (spType) {
    case 'text': {
      const limit = Math.min(proposal?.maxLength ?? SP_TEXT_MAX, SP_TEXT_MAX);
      return checkLength(asText(value, col), limit, col);
    }
    case 'note':
      return checkLength(asText(value, col), SP_NOTE_MAX, col);
    case 'number':
    case 'currency':
      return asNumber(value, col);
    case 'boolean':
      return asBoolean(value, col);
    case 'dateTime':
      return asDateTime(value, col);
    case 'dateOnly':
      return asDateOnly(value, col);
    case 'choice': {
      const text = checkLength(asText(value, col), SP_TEXT_MAX, col);
      const choices = proposal?.choices ?? col.enumValues ?? null;
      const free = proposal?.allowTextEntry ?? col.dataType !== 'enum';
      if (!free && choices !== null && !choices.includes(text)) {
        throw skip(col, 'value_not_a_choice', `the value of "${col.name}" is not one of the column's choices (the enum gained a label: re-provision the list)`);
      }
      return text;
    }
  }
}

function skip(col: ColumnInfo, code: string, message: string): SyncError {
  return skippableError('typemap', code, message, { details: [{ path: col.name, message, code }] });
}

function unrepresentable(col: ColumnInfo, why: string): SyncError {
  return skip(col, 'value_unrepresentable', `the value of "${col.name}" (${col.nativeType}) cannot be written to SharePoint: ${why}`);
}

function checkLength(text: string, limit: number, col: ColumnInfo): string {
  // UTF-16 code units, as SharePoint (.NET) counts characters
  if (text.length > limit) throw skip(col, 'value_too_long', `the value of "${col.name}" has ${text.length} characters; the SharePoint column holds ${limit}`);
  return text;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function timeOfDay(d: Date): string {
  const ms = d.getUTCMilliseconds();
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${ms ? `.${pad(ms, 3)}` : ''}`;
}

function asText(value: unknown, col: ColumnInfo): string {
  if (typeof value === 'string') {
    if (col.dataType === 'uuid') return value.toLowerCase();
    // char(n) pads with blanks that carry no meaning (PostgreSQL ignores them in comparisons too)
    if (col.dataType === 'char') return value.replace(/ +$/, '');
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw unrepresentable(col, 'not a finite number');
    return String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw unrepresentable(col, 'an invalid date');
    if (col.dataType === 'date') return value.toISOString().slice(0, 10);
    if (col.dataType === 'time') return timeOfDay(value);
    return value.toISOString();
  }
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) throw unrepresentable(col, 'binary data');
  if (typeof value === 'object') return JSON.stringify(value);
  throw unrepresentable(col, `a ${typeof value}`);
}

const NUMERIC_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function asNumber(value: unknown, col: ColumnInfo): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'bigint') {
    if (value > MAX_SAFE || value < -MAX_SAFE) throw outOfRange(col);
    n = Number(value);
  } else if (typeof value === 'string') {
    const text = value.trim();
    if (!NUMERIC_TEXT.test(text)) throw unrepresentable(col, 'not a number'); // includes PostgreSQL's NaN and Infinity
    // int8 arrives as text: past 2^53 a double would silently change the value
    if ((col.dataType === 'bigint' || col.dataType === 'int') && /^[+-]?\d+$/.test(text) && (BigInt(text) > MAX_SAFE || BigInt(text) < -MAX_SAFE)) {
      throw outOfRange(col);
    }
    n = Number(text);
  } else if (typeof value === 'boolean') n = value ? 1 : 0;
  else throw unrepresentable(col, `a ${value instanceof Date ? 'date' : typeof value} is not a number`);
  if (!Number.isFinite(n)) throw unrepresentable(col, 'not a finite number');
  return n;
}

function outOfRange(col: ColumnInfo): SyncError {
  return skip(col, 'value_out_of_range', `the value of "${col.name}" is beyond ±2^53, which a SharePoint number cannot hold exactly; map the column to text`);
}

function asBoolean(value: unknown, col: ColumnInfo): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (['true', 't', '1', 'yes', 'y'].includes(v)) return true;
    if (['false', 'f', '0', 'no', 'n'].includes(v)) return false;
  }
  throw unrepresentable(col, 'not a boolean');
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const ZONELESS = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
const ZONED = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$/i;

function toDate(value: unknown, col: ColumnInfo): Date {
  let d: Date | null = null;
  if (value instanceof Date) d = value;
  else if (typeof value === 'string') {
    const text = value.trim();
    if (DATE_ONLY.test(text)) d = new Date(`${text}T00:00:00Z`);
    else if (ZONELESS.test(text)) d = new Date(`${text.replace(' ', 'T')}Z`); // no zone: UTC by rule
    else if (ZONED.test(text)) d = new Date(text.replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  }
  if (d === null || Number.isNaN(d.getTime())) throw unrepresentable(col, 'not a valid date');
  return d;
}

function checkDateRange(day: string, col: ColumnInfo): void {
  if (day < SP_DATE_MIN || day > SP_DATE_MAX) {
    throw skip(col, 'value_out_of_range', `the value of "${col.name}" is outside SharePoint's date range (${SP_DATE_MIN} to ${SP_DATE_MAX})`);
  }
}

function asDateTime(value: unknown, col: ColumnInfo): string {
  const d = toDate(value, col);
  const iso = d.toISOString();
  // years past 9999 give "+010000-…": outside the range anyway
  if (!/^\d{4}-/.test(iso)) throw skip(col, 'value_out_of_range', `the value of "${col.name}" is outside SharePoint's date range (${SP_DATE_MIN} to ${SP_DATE_MAX})`);
  checkDateRange(iso.slice(0, 10), col);
  return `${iso.slice(0, 19)}Z`;
}

function asDateOnly(value: unknown, col: ColumnInfo): string {
  if (typeof value === 'string' && DATE_ONLY.test(value.trim())) {
    const day = value.trim();
    const d = new Date(`${day}T00:00:00Z`);
    if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== day) throw unrepresentable(col, 'not a valid date');
    checkDateRange(day, col);
    return day;
  }
  const iso = toDate(value, col).toISOString();
  if (!/^\d{4}-/.test(iso)) throw skip(col, 'value_out_of_range', `the value of "${col.name}" is outside SharePoint's date range (${SP_DATE_MIN} to ${SP_DATE_MAX})`);
  const day = iso.slice(0, 10);
  checkDateRange(day, col);
  return day;
}
