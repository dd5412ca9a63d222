import type { ColumnInfo, TableSchema } from './ports/source';
import { defaultSpType, proposeColumn, SP_TEXT_MAX, type SpType } from './typemap';

/**
 * Compares the schema snapshot stored with a definition against a fresh introspection, before
 * a run. Pure.
 * - `breaking`: the run must stop (a mapped column dropped, its type no longer fits the
 *   SharePoint column, the key or cursor column changed). The messages name the column.
 * - `additive`: the run may go on; the change is reported (new column, widened length, new
 *   enum label, more decimal places) and may call for re-provisioning.
 * - `info`: harmless (narrowed length, nullability, an unmapped column dropped).
 */

export type SchemaChangeSeverity = 'breaking' | 'additive' | 'info';

export type SchemaChangeKind =
  | 'column_dropped'
  | 'type_changed'
  | 'type_widened'
  | 'length_widened'
  | 'length_narrowed'
  | 'scale_changed'
  | 'precision_changed'
  | 'enum_values_added'
  | 'enum_values_removed'
  | 'nullability_changed'
  | 'key_changed'
  | 'cursor_changed'
  | 'column_added'
  | 'unmapped_column_dropped'
  | 'table_kind_changed';

export interface SchemaChange {
  kind: SchemaChangeKind;
  severity: SchemaChangeSeverity;
  column?: string;
  message: string;
  before?: unknown;
  after?: unknown;
}

export interface MappedColumns {
  /** Source columns whose values reach SharePoint, with the SharePoint type chosen for each (default mapping when absent). */
  fields: Array<{ column: string; spType?: SpType | null }>;
  /** The definition's key columns, in order. */
  key: string[];
  cursorColumn?: string;
  /** Other columns the definition reads (shard routing, soft-delete flag): their loss is breaking too. */
  other?: string[];
}

export interface SchemaDiff {
  changes: SchemaChange[];
  breaking: SchemaChange[];
  additive: SchemaChange[];
  hasBreaking: boolean;
}

export function diffSchemas(stored: TableSchema, fresh: TableSchema, mapped: MappedColumns): SchemaDiff {
  const changes: SchemaChange[] = [];
  const before = new Map(stored.columns.map((c) => [c.name, c]));
  const after = new Map(fresh.columns.map((c) => [c.name, c]));
  const add = (c: SchemaChange) => changes.push(c);
  const table = `${fresh.table.schema}.${fresh.table.name}`;

  const fieldTypes = new Map<string, SpType | null | undefined>(mapped.fields.map((f) => [f.column, f.spType]));
  const used = new Set<string>([...fieldTypes.keys(), ...mapped.key, ...(mapped.cursorColumn ? [mapped.cursorColumn] : []), ...(mapped.other ?? [])]);

  for (const name of used) {
    const old = before.get(name);
    const now = after.get(name);
    if (!now) {
      add({ kind: 'column_dropped', severity: 'breaking', column: name, message: `column "${name}" is used by the definition but no longer exists in ${table}` });
      continue;
    }
    if (!old) continue; // was not in the snapshot: nothing to compare against
    if (fieldTypes.has(name)) compareField(old, now, fieldTypes.get(name), add);
    else if (!mapped.key.includes(name) && name !== mapped.cursorColumn) compareOther(old, now, add); // key and cursor: checked below
  }

  const keyChanged = mapped.key.filter((k) => {
    const o = before.get(k);
    const n = after.get(k);
    return o && n && (o.dataType !== n.dataType || o.nativeType !== n.nativeType);
  });
  for (const k of keyChanged) {
    add({
      kind: 'key_changed',
      severity: 'breaking',
      column: k,
      message: `key column "${k}" changed type (${before.get(k)?.nativeType} → ${after.get(k)?.nativeType}): row identities may change; re-validate the definition`,
      before: before.get(k)?.nativeType,
      after: after.get(k)?.nativeType,
    });
  }
  // a key taken from the primary key follows it: a different primary key means different identities
  if (sameList(mapped.key, stored.primaryKey) && !sameList(stored.primaryKey, fresh.primaryKey)) {
    add({
      kind: 'key_changed',
      severity: 'breaking',
      message: `the primary key of ${table} changed from (${(stored.primaryKey ?? []).join(', ')}) to (${(fresh.primaryKey ?? []).join(', ') || 'none'})`,
      before: stored.primaryKey,
      after: fresh.primaryKey,
    });
  }

  if (mapped.cursorColumn) {
    const o = before.get(mapped.cursorColumn);
    const n = after.get(mapped.cursorColumn);
    if (o && n && o.dataType !== n.dataType) {
      add({
        kind: 'cursor_changed',
        severity: 'breaking',
        column: n.name,
        message: `cursor column "${n.name}" changed type (${o.nativeType} → ${n.nativeType}): the stored cursor may no longer compare correctly`,
        before: o.nativeType,
        after: n.nativeType,
      });
    }
  }

  for (const c of fresh.columns) {
    if (!before.has(c.name)) add({ kind: 'column_added', severity: 'additive', column: c.name, message: `new column "${c.name}" (${c.nativeType}) in ${table}; map it to sync it` });
  }
  for (const c of stored.columns) {
    if (!after.has(c.name) && !used.has(c.name)) {
      add({ kind: 'unmapped_column_dropped', severity: 'info', column: c.name, message: `column "${c.name}" was dropped; the definition does not use it` });
    }
  }
  if (stored.kind !== fresh.kind) add({ kind: 'table_kind_changed', severity: 'info', message: `${table} is now a ${fresh.kind} (was a ${stored.kind})` });

  const breaking = changes.filter((c) => c.severity === 'breaking');
  return { changes, breaking, additive: changes.filter((c) => c.severity === 'additive'), hasBreaking: breaking.length > 0 };
}

/** A mapped field: does the fresh column still fit the SharePoint column chosen for it? */
function compareField(old: ColumnInfo, now: ColumnInfo, chosen: SpType | null | undefined, add: (c: SchemaChange) => void): void {
  const spType = chosen === undefined ? defaultSpType(old) : chosen;
  const name = now.name;
  if (spType === null) return; // reported as unsupported at provisioning; not synced
  if (old.dataType !== now.dataType) {
    const proposal = proposeColumn(now, spType);
    const sameDefault = defaultSpType(now) === spType;
    if (!proposal.supported || (chosen === undefined && !sameDefault)) {
      add({
        kind: 'type_changed',
        severity: 'breaking',
        column: name,
        message: `column "${name}" changed from ${old.nativeType} to ${now.nativeType}, which no longer fits its SharePoint ${spType} column`,
        before: old.nativeType,
        after: now.nativeType,
      });
    } else {
      add({
        kind: 'type_widened',
        severity: 'additive',
        column: name,
        message: `column "${name}" changed from ${old.nativeType} to ${now.nativeType}; its SharePoint ${spType} column still fits`,
        before: old.nativeType,
        after: now.nativeType,
      });
    }
    return;
  }
  compareLength(old, now, spType, add);
  if ((now.dataType === 'decimal' || now.dataType === 'money') && (old.scale !== now.scale || old.precision !== now.precision)) {
    const more = (now.scale ?? Infinity) > (old.scale ?? Infinity) || (now.precision ?? Infinity) > (old.precision ?? Infinity);
    add({
      kind: old.scale !== now.scale ? 'scale_changed' : 'precision_changed',
      severity: more ? 'additive' : 'info',
      column: name,
      message: `column "${name}" changed from ${old.nativeType} to ${now.nativeType}${more ? '; re-provision to show the new decimal places' : ''}`,
      before: old.nativeType,
      after: now.nativeType,
    });
  }
  if (now.dataType === 'enum') {
    const oldValues = old.enumValues ?? [];
    const newValues = now.enumValues ?? [];
    const added = newValues.filter((v) => !oldValues.includes(v));
    const removed = oldValues.filter((v) => !newValues.includes(v));
    if (added.length > 0) {
      add({
        kind: 'enum_values_added',
        severity: spType === 'choice' ? 'additive' : 'info',
        column: name,
        message: `enum of column "${name}" gained ${added.length} label(s); re-provision so the choice column offers them`,
        after: added,
      });
    }
    if (removed.length > 0) add({ kind: 'enum_values_removed', severity: 'info', column: name, message: `enum of column "${name}" lost ${removed.length} label(s)`, before: removed });
  }
  if (old.nullable !== now.nullable) {
    add({ kind: 'nullability_changed', severity: 'info', column: name, message: `column "${name}" is now ${now.nullable ? 'nullable' : 'NOT NULL'}` });
  }
}

function compareLength(old: ColumnInfo, now: ColumnInfo, spType: SpType, add: (c: SchemaChange) => void): void {
  if (old.maxLength === now.maxLength) return;
  const name = now.name;
  const wider = now.maxLength === null || (old.maxLength !== null && now.maxLength > old.maxLength);
  if (!wider) {
    add({ kind: 'length_narrowed', severity: 'info', column: name, message: `column "${name}" narrowed from ${old.nativeType} to ${now.nativeType}`, before: old.maxLength, after: now.maxLength });
    return;
  }
  // a single line of text cannot grow past 255: longer values would fail row by row
  if (spType === 'text' && (now.maxLength === null || now.maxLength > SP_TEXT_MAX)) {
    add({
      kind: 'type_changed',
      severity: 'breaking',
      column: name,
      message: `column "${name}" widened from ${old.nativeType} to ${now.nativeType}, beyond what a single line of text holds (${SP_TEXT_MAX}); map it to note`,
      before: old.nativeType,
      after: now.nativeType,
    });
    return;
  }
  add({
    kind: 'length_widened',
    severity: 'additive',
    column: name,
    message: `column "${name}" widened from ${old.nativeType} to ${now.nativeType}${spType === 'text' ? '; re-provision to raise the SharePoint column length' : ''}`,
    before: old.maxLength,
    after: now.maxLength,
  });
}

/** Key, cursor and routing columns that are not mapped fields: only a type change matters. */
function compareOther(old: ColumnInfo, now: ColumnInfo, add: (c: SchemaChange) => void): void {
  if (old.dataType !== now.dataType) {
    add({
      kind: 'type_changed',
      severity: 'breaking',
      column: now.name,
      message: `column "${now.name}" used by the definition changed from ${old.nativeType} to ${now.nativeType}`,
      before: old.nativeType,
      after: now.nativeType,
    });
  }
}

function sameList(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
