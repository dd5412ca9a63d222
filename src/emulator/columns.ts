/**
 * Column definitions and field-value validation, after Graph's columnDefinition resource
 * (learn.microsoft.com/graph/api/resources/columndefinition) and listItem create/update
 * (learn.microsoft.com/graph/api/listitem-create, /graph/api/listitem-update).
 */
import { GraphError, invalidRequest } from './errors';
import { newGuid } from './ids';

export type ColumnKind =
  | 'text'
  | 'note'
  | 'number'
  | 'currency'
  | 'boolean'
  | 'dateTime'
  | 'choice'
  | 'counter'
  | 'computed'
  | 'personOrGroup';

/** What a list item stores for one field. `null` means empty (Graph then omits the field). */
export type FieldValue = string | number | boolean | null;

export interface Column {
  id: string;
  name: string;
  displayName: string;
  description: string;
  columnGroup: string;
  kind: ColumnKind;
  builtIn: boolean;
  readOnly: boolean;
  hidden: boolean;
  indexed: boolean;
  enforceUniqueValues: boolean;
  required: boolean;
  text?: { maxLength: number; allowMultipleLines: boolean; linesForEditing: number; textType: string };
  number?: { decimalPlaces: string; displayAs: string; minimum?: number; maximum?: number };
  currency?: { locale: string; minimum?: number; maximum?: number };
  dateTime?: { format: 'dateOnly' | 'dateTime'; displayAs: string };
  choice?: { choices: string[]; allowTextEntry: boolean; displayAs: string };
}

/** SharePoint's list view threshold and index limits. */
export const MAX_INDEXED_COLUMNS = 20;
export const DEFAULT_TEXT_MAX_LENGTH = 255;
/** Multiple lines of text hold at most 63,999 characters (SharePoint "Multiple lines of text" limit). */
export const NOTE_MAX_LENGTH = 63_999;

const SUPPORTED_FACETS = ['text', 'number', 'currency', 'boolean', 'dateTime', 'choice'] as const;
const UNSUPPORTED_FACETS = [
  'calculated',
  'contentApprovalStatus',
  'geolocation',
  'hyperlinkOrPicture',
  'lookup',
  'personOrGroup',
  'sourceColumn',
  'term',
  'thumbnail',
  'defaultValue',
  'validation',
];
const DECIMAL_PLACES = ['automatic', 'none', 'one', 'two', 'three', 'four', 'five'];
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;

function builtIn(
  id: string,
  name: string,
  kind: ColumnKind,
  extra: Partial<Column> = {},
): Column {
  return {
    id,
    name,
    displayName: name,
    description: '',
    columnGroup: 'Custom Columns',
    kind,
    builtIn: true,
    readOnly: true,
    hidden: false,
    indexed: false,
    enforceUniqueValues: false,
    required: false,
    ...extra,
  };
}

/** The columns every generic list has, with SharePoint's well-known field ids. */
export function builtInColumns(): Column[] {
  return [
    builtIn('c042a256-787d-4a6f-8a8a-cf6ab767f12d', 'ContentType', 'computed', { displayName: 'Content Type' }),
    builtIn('fa564e0f-0c70-4ab9-b863-0177e6ddd247', 'Title', 'text', {
      readOnly: false,
      text: { maxLength: DEFAULT_TEXT_MAX_LENGTH, allowMultipleLines: false, linesForEditing: 0, textType: 'plain' },
    }),
    builtIn('28cf69c5-fa48-462a-b5cd-27b6f9d2bd5f', 'Modified', 'dateTime', {
      dateTime: { format: 'dateTime', displayAs: 'standard' },
    }),
    builtIn('8c06beca-0777-48f7-91c7-6da68bc07b69', 'Created', 'dateTime', {
      dateTime: { format: 'dateTime', displayAs: 'standard' },
    }),
    builtIn('1df5e554-ec7e-46a6-901d-d85a3881cb18', 'Author', 'personOrGroup', { displayName: 'Created By' }),
    builtIn('d31655d1-1d5b-4511-95a1-7a09e9b75bf2', 'Editor', 'personOrGroup', { displayName: 'Modified By' }),
    builtIn('dce8262a-3ae9-45aa-aab4-83bd75fb738a', '_UIVersionString', 'text', { displayName: 'Version' }),
    builtIn('67df98f4-9dec-48ff-a553-29bece9c5bf4', 'Attachments', 'boolean'),
    builtIn('503f1caa-358e-4918-9094-4a2cdc4bc034', 'Edit', 'computed'),
    builtIn('9d30f126-ba48-446b-b8f9-83745f322ebe', 'LinkTitleNoMenu', 'computed', { displayName: 'Title' }),
    builtIn('82642ec8-ef9b-478f-acf9-31f7d45fbc31', 'LinkTitle', 'computed', { displayName: 'Title' }),
    builtIn('1d22ea11-1e32-424e-89ab-9fedbadb6ce1', 'ID', 'counter', { indexed: true }),
    builtIn('b824e17e-a1b3-426e-aecf-f0184d900485', 'ItemChildCount', 'computed', { displayName: 'Item Child Count' }),
    builtIn('960ff01f-2b6d-4f1b-9c3f-e19ad8927341', 'FolderChildCount', 'computed', { displayName: 'Folder Child Count' }),
  ];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optBool(body: Record<string, unknown>, key: string, what: string): boolean {
  const v = body[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw invalidRequest(`Property '${key}' of ${what} must be a boolean.`);
  return v;
}

function optNumber(facet: Record<string, unknown>, key: string, what: string): number | undefined {
  const v = facet[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidRequest(`Property '${key}' of ${what} must be a number.`);
  return v;
}

/**
 * Turns a Graph columnDefinition request body into a column, with the checks Graph makes.
 * `existing` are the list's current columns (names are unique case-insensitively).
 */
export function parseColumnDefinition(body: unknown, existing: readonly Column[]): Column {
  if (!isObject(body)) throw invalidRequest('The column definition must be a JSON object.');
  const rawName = body.name ?? body.displayName;
  if (typeof rawName !== 'string' || rawName.length === 0) {
    throw invalidRequest("A column definition needs a 'name'.");
  }
  const name = rawName;
  if (!COLUMN_NAME.test(name)) {
    throw invalidRequest(
      `Column name '${name}' is not valid: use up to 32 letters, digits or underscores, starting with a letter or underscore.`,
    );
  }
  if (existing.some((c) => c.name.toLowerCase() === name.toLowerCase())) {
    throw new GraphError(409, 'nameAlreadyExists', `A duplicate field name "${name}" was found.`);
  }
  const displayName = typeof body.displayName === 'string' && body.displayName ? body.displayName : name;
  const description = typeof body.description === 'string' ? body.description : '';
  const what = `column '${name}'`;

  const unsupported = UNSUPPORTED_FACETS.filter((f) => body[f] !== undefined && body[f] !== null);
  if (unsupported.length > 0) {
    throw invalidRequest(`The emulator does not support the '${unsupported[0]}' facet (${what}).`);
  }
  const facets = SUPPORTED_FACETS.filter((f) => body[f] !== undefined && body[f] !== null);
  if (facets.length > 1) throw invalidRequest(`A column can have only one type facet; ${what} has ${facets.join(', ')}.`);
  const facetName = facets[0] ?? 'text';
  const facet = body[facetName] ?? {};
  if (!isObject(facet)) throw invalidRequest(`The '${facetName}' facet of ${what} must be an object.`);

  const column: Column = {
    id: newGuid(),
    name,
    displayName,
    description,
    columnGroup: 'Custom Columns',
    kind: 'text',
    builtIn: false,
    readOnly: false,
    hidden: optBool(body, 'hidden', what),
    indexed: optBool(body, 'indexed', what),
    enforceUniqueValues: optBool(body, 'enforceUniqueValues', what),
    required: optBool(body, 'required', what),
  };

  switch (facetName) {
    case 'text': {
      const multi = optBool(facet, 'allowMultipleLines', what);
      const maxLength = optNumber(facet, 'maxLength', what);
      if (!multi && maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1 || maxLength > 255)) {
        throw invalidRequest(`The maxLength of ${what} must be a whole number from 1 to 255.`);
      }
      column.kind = multi ? 'note' : 'text';
      column.text = {
        maxLength: multi ? NOTE_MAX_LENGTH : (maxLength ?? DEFAULT_TEXT_MAX_LENGTH),
        allowMultipleLines: multi,
        linesForEditing: multi ? (optNumber(facet, 'linesForEditing', what) ?? 6) : 0,
        textType: typeof facet.textType === 'string' ? facet.textType : 'plain',
      };
      break;
    }
    case 'number': {
      const decimalPlaces = facet.decimalPlaces ?? 'automatic';
      if (typeof decimalPlaces !== 'string' || !DECIMAL_PLACES.includes(decimalPlaces)) {
        throw invalidRequest(`The decimalPlaces of ${what} must be one of ${DECIMAL_PLACES.join(', ')}.`);
      }
      const minimum = optNumber(facet, 'minimum', what);
      const maximum = optNumber(facet, 'maximum', what);
      if (minimum !== undefined && maximum !== undefined && minimum > maximum) {
        throw invalidRequest(`The minimum of ${what} is greater than its maximum.`);
      }
      column.kind = 'number';
      column.number = { decimalPlaces, displayAs: typeof facet.displayAs === 'string' ? facet.displayAs : 'number' };
      if (minimum !== undefined) column.number.minimum = minimum;
      if (maximum !== undefined) column.number.maximum = maximum;
      break;
    }
    case 'currency': {
      column.kind = 'currency';
      column.currency = { locale: typeof facet.locale === 'string' ? facet.locale : 'en-us' };
      break;
    }
    case 'boolean':
      column.kind = 'boolean';
      break;
    case 'dateTime': {
      const format = facet.format ?? 'dateTime';
      if (format !== 'dateOnly' && format !== 'dateTime') {
        throw invalidRequest(`The format of ${what} must be 'dateOnly' or 'dateTime'.`);
      }
      column.kind = 'dateTime';
      column.dateTime = { format, displayAs: typeof facet.displayAs === 'string' ? facet.displayAs : 'default' };
      break;
    }
    case 'choice': {
      const choices = facet.choices;
      if (!Array.isArray(choices) || choices.length === 0 || !choices.every((c) => typeof c === 'string' && c.length > 0)) {
        throw invalidRequest(`The choices of ${what} must be a non-empty array of non-empty strings.`);
      }
      column.kind = 'choice';
      column.choice = {
        choices: [...(choices as string[])],
        allowTextEntry: optBool(facet, 'allowTextEntry', what),
        displayAs: typeof facet.displayAs === 'string' ? facet.displayAs : 'dropDownMenu',
      };
      break;
    }
  }

  if (column.kind === 'note' && (column.indexed || column.enforceUniqueValues)) {
    throw invalidRequest(`Column '${name}' allows multiple lines of text and cannot be indexed or enforce unique values.`);
  }
  if (column.kind === 'boolean' && column.enforceUniqueValues) {
    throw invalidRequest(`Column '${name}' is a yes/no column and cannot enforce unique values.`);
  }
  if (column.enforceUniqueValues && !column.indexed) {
    throw invalidRequest(`Column '${name}' must be indexed to enforce unique values; set 'indexed' to true.`);
  }
  if (column.indexed && existing.filter((c) => c.indexed && !c.builtIn).length >= MAX_INDEXED_COLUMNS) {
    throw invalidRequest(`A list can have at most ${MAX_INDEXED_COLUMNS} indexed columns; column '${name}' cannot be indexed.`);
  }
  return column;
}

/** The columnDefinition properties an update may change here; type facets and names stay as created. */
const UPDATABLE = ['displayName', 'description', 'hidden', 'indexed', 'enforceUniqueValues', 'required'] as const;

/**
 * Applies a Graph columnDefinition update body to a copy of `column` ("you can update any
 * property of columnDefinition other than the id property", learn.microsoft.com/graph/api/columndefinition-update),
 * with the same rules as a create. `hasDuplicates` tells whether the list holds a value twice
 * in that column, which SharePoint checks before it enforces unique values.
 */
export function applyColumnUpdate(column: Column, body: unknown, existing: readonly Column[], hasDuplicates: () => boolean): Column {
  if (!isObject(body)) throw invalidRequest('The column definition must be a JSON object.');
  const what = `column '${column.name}'`;
  if (column.readOnly) throw invalidRequest(`The ${what} is read-only and cannot be changed.`);
  if (body.id !== undefined && body.id !== column.id) throw invalidRequest(`The id of ${what} cannot be changed.`);
  const other = Object.keys(body).filter((k) => k !== 'id' && !(UPDATABLE as readonly string[]).includes(k));
  if (other.length > 0) throw invalidRequest(`The emulator does not support updating '${other[0]}' (${what}); it updates ${UPDATABLE.join(', ')}.`);
  const next: Column = { ...column };
  for (const key of ['displayName', 'description'] as const) {
    if (body[key] === undefined) continue;
    if (typeof body[key] !== 'string') throw invalidRequest(`Property '${key}' of ${what} must be a string.`);
    next[key] = body[key] as string;
  }
  for (const key of ['hidden', 'indexed', 'enforceUniqueValues', 'required'] as const) {
    if (body[key] !== undefined) next[key] = optBool(body, key, what);
  }
  if (next.kind === 'note' && (next.indexed || next.enforceUniqueValues)) {
    throw invalidRequest(`Column '${column.name}' allows multiple lines of text and cannot be indexed or enforce unique values.`);
  }
  if (next.kind === 'boolean' && next.enforceUniqueValues) {
    throw invalidRequest(`Column '${column.name}' is a yes/no column and cannot enforce unique values.`);
  }
  if (next.enforceUniqueValues && !next.indexed) {
    throw invalidRequest(`Column '${column.name}' must be indexed to enforce unique values; set 'indexed' to true (or turn off enforceUniqueValues first).`);
  }
  if (next.indexed && !column.indexed && existing.filter((c) => c.indexed && !c.builtIn).length >= MAX_INDEXED_COLUMNS) {
    throw invalidRequest(`A list can have at most ${MAX_INDEXED_COLUMNS} indexed columns; column '${column.name}' cannot be indexed.`);
  }
  if (next.enforceUniqueValues && !column.enforceUniqueValues && hasDuplicates()) {
    throw invalidRequest(`Column '${column.name}' contains duplicate values: remove them before enforcing unique values.`);
  }
  return next;
}

/** The column as Graph prints it. */
export function columnJson(c: Column): Record<string, unknown> {
  const out: Record<string, unknown> = {
    columnGroup: c.columnGroup,
    description: c.description,
    displayName: c.displayName,
    enforceUniqueValues: c.enforceUniqueValues,
    hidden: c.hidden,
    id: c.id,
    indexed: c.indexed,
    name: c.name,
    readOnly: c.readOnly,
    required: c.required,
  };
  switch (c.kind) {
    case 'text':
    case 'note':
      out.text = c.text ?? { allowMultipleLines: false, maxLength: DEFAULT_TEXT_MAX_LENGTH, linesForEditing: 0, textType: 'plain' };
      break;
    case 'number':
      out.number = c.number;
      break;
    case 'counter':
      out.number = { decimalPlaces: 'none', displayAs: 'number' };
      break;
    case 'currency':
      out.currency = c.currency;
      break;
    case 'boolean':
      out.boolean = {};
      break;
    case 'dateTime':
      out.dateTime = c.dateTime;
      break;
    case 'choice':
      out.choice = c.choice;
      break;
    case 'personOrGroup':
      out.personOrGroup = { allowMultipleSelection: false, displayAs: 'nameWithPresence', chooseFromType: 'peopleOnly' };
      break;
    case 'computed':
      out.calculated = { formula: null, outputType: 'text' };
      break;
  }
  return out;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
/** SharePoint's date range. */
const MIN_DATE = Date.UTC(1900, 0, 1);
const MAX_DATE = Date.UTC(8900, 11, 31, 23, 59, 59);

/**
 * Parses an ISO 8601 date or date-time into SharePoint's stored form (UTC, whole seconds),
 * or returns undefined when it is not one.
 */
export function parseIsoDate(raw: string, dateOnly: boolean): string | undefined {
  const m = ISO_DATE.exec(raw.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, , tz] = m;
  const base = `${y}-${mo}-${d}T${h ?? '00'}:${mi ?? '00'}:${s ?? '00'}`;
  let zone = tz ?? 'Z';
  if (zone !== 'Z' && !zone.includes(':')) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(base + zone);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2024-02-30 over to March: refuse dates that do not exist.
  const check = new Date(Date.parse(`${y}-${mo}-${d}T00:00:00Z`));
  if (check.getUTCDate() !== Number(d) || check.getUTCMonth() + 1 !== Number(mo)) return undefined;
  if (ms < MIN_DATE || ms > MAX_DATE) return undefined;
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString();
  return dateOnly ? `${iso.slice(0, 10)}T00:00:00Z` : iso.replace('.000Z', 'Z');
}

function fieldError(c: Column, message: string): GraphError {
  return invalidRequest(`Field '${c.name}' ${message}`);
}

/** Validates one field value from a create or update body and returns what the list stores. */
export function validateFieldValue(c: Column, raw: unknown): FieldValue {
  if (c.readOnly) throw fieldError(c, 'is read-only.');
  if (raw === null) return null;
  switch (c.kind) {
    case 'text':
    case 'note': {
      if (typeof raw !== 'string') throw fieldError(c, `expects a text value, not ${describe(raw)}.`);
      if (raw === '') return null;
      const max = c.text?.maxLength ?? DEFAULT_TEXT_MAX_LENGTH;
      if (raw.length > max) {
        throw fieldError(c, `has ${raw.length} characters, more than its maximum length of ${max}.`);
      }
      return raw;
    }
    case 'number':
    case 'currency': {
      if (typeof raw !== 'number' || !Number.isFinite(raw)) throw fieldError(c, `expects a number, not ${describe(raw)}.`);
      const limits = c.kind === 'number' ? c.number : c.currency;
      if (limits?.minimum !== undefined && raw < limits.minimum) {
        throw fieldError(c, `value ${raw} is below its minimum of ${limits.minimum}.`);
      }
      if (limits?.maximum !== undefined && raw > limits.maximum) {
        throw fieldError(c, `value ${raw} is above its maximum of ${limits.maximum}.`);
      }
      return raw;
    }
    case 'boolean':
      if (typeof raw !== 'boolean') throw fieldError(c, `expects true or false, not ${describe(raw)}.`);
      return raw;
    case 'dateTime': {
      if (typeof raw !== 'string') throw fieldError(c, `expects an ISO 8601 date, not ${describe(raw)}.`);
      const parsed = parseIsoDate(raw, c.dateTime?.format === 'dateOnly');
      if (parsed === undefined) {
        throw fieldError(c, `expects an ISO 8601 date between 1900-01-01 and 8900-12-31, not '${raw}'.`);
      }
      return parsed;
    }
    case 'choice': {
      if (typeof raw !== 'string') throw fieldError(c, `expects one of its choices, not ${describe(raw)}.`);
      if (raw === '') return null;
      const choice = c.choice;
      if (choice && !choice.allowTextEntry && !choice.choices.includes(raw)) {
        throw fieldError(c, `value '${raw}' is not one of its choices (${choice.choices.join(', ')}).`);
      }
      if (raw.length > DEFAULT_TEXT_MAX_LENGTH) throw fieldError(c, `value is longer than ${DEFAULT_TEXT_MAX_LENGTH} characters.`);
      return raw;
    }
    default:
      throw fieldError(c, 'is read-only.');
  }
}

/**
 * Validates the `fields` of a create or update body against a list's columns; returns the new
 * values by column name (null: the field is emptied).
 */
export function validateFields(columns: readonly Column[], fields: unknown): Map<string, FieldValue> {
  if (fields === undefined || fields === null) return new Map();
  if (typeof fields !== 'object' || Array.isArray(fields)) throw invalidRequest("'fields' must be a JSON object.");
  const out = new Map<string, FieldValue>();
  for (const [key, raw] of Object.entries(fields as Record<string, unknown>)) {
    if (key.includes('@')) continue; // OData annotations such as "Tags@odata.type"
    if (key === 'id') throw invalidRequest("Field 'id' is read-only.");
    const column = columns.find((c) => c.name === key);
    if (!column) throw invalidRequest(`Field '${key}' is not recognized`);
    out.set(column.name, validateFieldValue(column, raw));
  }
  return out;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the text '${v.length > 40 ? `${v.slice(0, 40)}...` : v}'`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/**
 * The key a value has in a column index. SharePoint compares text case-insensitively, both
 * for unique values and for `eq` filters, so text keys are lower-cased.
 */
export function indexKey(v: string | number | boolean): string {
  return typeof v === 'string' ? v.toLowerCase() : `${typeof v}:${String(v)}`;
}
