import { configError } from '../../core/errors';
import {
  SYNC_KEY_COLUMN,
  SYNC_KEY_MAX_LENGTH,
  type ColumnConflict,
  type ColumnSpec,
  type ExistingColumn,
} from '../../core/ports/list-target';
import { MODULE } from './graph-errors';

/**
 * Column specs ↔ Graph columnDefinition (learn.microsoft.com/graph/api/resources/columndefinition),
 * and the comparison that decides what to add and what conflicts. Pure: no I/O.
 */

/** The column every synced list carries (DESIGN §4). */
export const SYNC_KEY_SPEC: ColumnSpec = {
  name: SYNC_KEY_COLUMN,
  displayName: SYNC_KEY_COLUMN,
  type: 'text',
  maxLength: SYNC_KEY_MAX_LENGTH,
  hidden: true,
  indexed: true,
  enforceUniqueValues: true,
};

/** Graph's numberColumn.decimalPlaces is a word, not a number. */
const DECIMAL_WORDS = ['none', 'one', 'two', 'three', 'four', 'five'] as const;
/** SharePoint internal names: what Graph accepts for `name` and what item `fields` are keyed by. */
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;
const TEXT_MAX = 255;

/** Rejects specs SharePoint would refuse, before any request is made. */
export function validateSpec(spec: ColumnSpec): void {
  const bad = (why: string) => configError(MODULE, 'invalid_column_spec', `column '${spec.name}': ${why}`);
  if (!COLUMN_NAME.test(spec.name)) throw bad('a name is up to 32 letters, digits or "_", starting with a letter or "_"');
  if (spec.type === 'text' && spec.maxLength !== undefined && !(Number.isInteger(spec.maxLength) && spec.maxLength >= 1 && spec.maxLength <= TEXT_MAX)) {
    throw bad(`maxLength must be a whole number from 1 to ${TEXT_MAX} (longer text needs type 'note')`);
  }
  if (spec.decimalPlaces !== undefined && !(Number.isInteger(spec.decimalPlaces) && spec.decimalPlaces >= 0 && spec.decimalPlaces <= 5)) {
    throw bad('decimalPlaces must be 0 to 5');
  }
  if (spec.type === 'choice' && !(spec.choices && spec.choices.length > 0 && spec.choices.every((c) => c.length > 0))) {
    throw bad('a choice column needs at least one non-empty choice');
  }
  if (spec.enforceUniqueValues && (spec.type === 'note' || spec.type === 'boolean')) throw bad(`a ${spec.type} column cannot enforce unique values`);
  if (spec.indexed && spec.type === 'note') throw bad('a note column cannot be indexed');
}

/** Wanted columns in order, SyncKey first; a caller's own `SyncKey` is replaced by the canonical one. */
export function withSyncKey(columns: readonly ColumnSpec[]): ColumnSpec[] {
  const seen = new Set<string>([SYNC_KEY_COLUMN.toLowerCase()]);
  const out: ColumnSpec[] = [SYNC_KEY_SPEC];
  for (const c of columns) {
    const key = c.name.toLowerCase();
    if (seen.has(key)) {
      if (key === SYNC_KEY_COLUMN.toLowerCase()) continue;
      throw configError(MODULE, 'duplicate_column', `column '${c.name}' appears twice in the list spec`);
    }
    seen.add(key);
    out.push(c);
  }
  return out;
}

/** The columnDefinition body for POST .../columns or the `columns` of a list create. */
export function toGraphColumn(spec: ColumnSpec): Record<string, unknown> {
  const body: Record<string, unknown> = { name: spec.name, displayName: spec.displayName ?? spec.name };
  switch (spec.type) {
    case 'text':
      body.text = { allowMultipleLines: false, maxLength: spec.maxLength ?? TEXT_MAX };
      break;
    case 'note':
      body.text = { allowMultipleLines: true, textType: 'plain' };
      break;
    case 'number':
      body.number = { decimalPlaces: spec.decimalPlaces === undefined ? 'automatic' : DECIMAL_WORDS[spec.decimalPlaces], displayAs: 'number' };
      break;
    case 'currency':
      body.currency = { locale: 'en-us' };
      break;
    case 'boolean':
      body.boolean = {};
      break;
    case 'dateTime':
    case 'dateOnly':
      body.dateTime = { format: spec.type, displayAs: 'default' };
      break;
    case 'choice':
      body.choice = { choices: spec.choices ?? [], allowTextEntry: false, displayAs: 'dropDownMenu' };
      break;
  }
  // Only true flags are sent: false is Graph's default and keeps the body minimal.
  if (spec.indexed || spec.enforceUniqueValues) body.indexed = true;
  if (spec.enforceUniqueValues) body.enforceUniqueValues = true;
  if (spec.hidden) body.hidden = true;
  if (spec.required) body.required = true;
  return body;
}

/** A Graph columnDefinition as the port describes it. */
export function fromGraphColumn(raw: Record<string, unknown>): ExistingColumn {
  const facet = (name: string) => (raw[name] && typeof raw[name] === 'object' ? (raw[name] as Record<string, unknown>) : undefined);
  const col: ExistingColumn = {
    id: String(raw.id ?? ''),
    name: String(raw.name ?? ''),
    displayName: String(raw.displayName ?? raw.name ?? ''),
    type: 'other',
    indexed: raw.indexed === true,
    enforceUniqueValues: raw.enforceUniqueValues === true,
    hidden: raw.hidden === true,
    required: raw.required === true,
    readOnly: raw.readOnly === true,
  };
  const text = facet('text');
  const number = facet('number');
  const dateTime = facet('dateTime');
  const choice = facet('choice');
  if (text) {
    col.type = text.allowMultipleLines === true ? 'note' : 'text';
    if (typeof text.maxLength === 'number') col.maxLength = text.maxLength;
  } else if (number) {
    col.type = 'number';
    const places = DECIMAL_WORDS.indexOf(number.decimalPlaces as (typeof DECIMAL_WORDS)[number]);
    if (places >= 0) col.decimalPlaces = places;
  } else if (facet('currency')) {
    col.type = 'currency';
  } else if (facet('boolean')) {
    col.type = 'boolean';
  } else if (dateTime) {
    col.type = dateTime.format === 'dateOnly' ? 'dateOnly' : 'dateTime';
  } else if (choice) {
    col.type = 'choice';
    if (Array.isArray(choice.choices)) col.choices = choice.choices.map(String);
  }
  return col;
}

/**
 * What `existing` lacks of `wanted`, and where an existing column of the same name cannot hold
 * what we would write. Names compare case-insensitively, as SharePoint's do.
 */
export function planColumns(
  wanted: readonly ColumnSpec[],
  existing: readonly ExistingColumn[],
): { toAdd: ColumnSpec[]; conflicts: ColumnConflict[] } {
  const byName = new Map(existing.map((c) => [c.name.toLowerCase(), c]));
  const toAdd: ColumnSpec[] = [];
  const conflicts: ColumnConflict[] = [];
  for (const spec of wanted) {
    const have = byName.get(spec.name.toLowerCase());
    if (!have) {
      toAdd.push(spec);
      continue;
    }
    const reason = incompatibility(spec, have);
    if (reason) conflicts.push({ column: spec.name, existing: have, wanted: spec, reason });
  }
  return { toAdd, conflicts };
}

function incompatibility(spec: ColumnSpec, have: ExistingColumn): string | null {
  if (have.readOnly) return 'the existing column is read-only';
  // A multi-line column holds anything a single-line one would, unless it must be indexed.
  const textIntoNote = spec.type === 'text' && have.type === 'note' && !spec.indexed && !spec.enforceUniqueValues;
  if (have.type !== spec.type && !textIntoNote) return `the existing column is of type '${have.type}', not '${spec.type}'`;
  if (spec.type === 'text' && have.type === 'text') {
    const want = spec.maxLength ?? TEXT_MAX;
    if ((have.maxLength ?? TEXT_MAX) < want) return `the existing column holds at most ${have.maxLength} characters, ${want} are needed`;
  }
  if (spec.type === 'choice') {
    const missing = (spec.choices ?? []).filter((c) => !(have.choices ?? []).includes(c));
    if (missing.length > 0) return `the existing column lacks the choices ${missing.map((c) => `'${c}'`).join(', ')}`;
  }
  if (spec.enforceUniqueValues && !have.enforceUniqueValues) return 'the existing column does not enforce unique values';
  if (spec.indexed && !have.indexed) return 'the existing column is not indexed';
  // An unexpected uniqueness rule would refuse rows the table allows.
  if (have.enforceUniqueValues && !spec.enforceUniqueValues) return 'the existing column enforces unique values the table does not guarantee';
  return null;
}
