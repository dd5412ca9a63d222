import { createHash } from 'node:crypto';
import type { SyncDefinition } from './definitions';
import { configError, type FieldIssue } from './errors';
import { contentHash, identityHash, type KeyHint } from './identity';
import type { ColumnSpec, ListSpec } from './ports/list-target';
import { SYNC_KEY_COLUMN } from './ports/list-target';
import { defaultKey, type ColumnInfo, type Row, type TableSchema } from './ports/source';
import { proposeColumn, toGraphValue, type ColumnProposal, type GraphValue, type SpType } from './typemap';

/**
 * The field mapping a definition resolves to against its table's schema: which source column
 * fills which SharePoint column, with which type. Chosen at validation/provisioning, stored on
 * the definition, and used by every run. Its hash drives `mappingVersion` (DESIGN §4).
 */

export interface MappedField {
  source: string;
  /** SharePoint internal column name (what item `fields` are keyed by). */
  target: string;
  displayName: string;
  spType: SpType;
  proposal: ColumnProposal;
  column: ColumnInfo;
}

export interface ResolvedMapping {
  key: string[];
  keyHints: KeyHint[];
  /** Source column that fills the built-in Title column, if any. */
  title: { source: string; column: ColumnInfo } | null;
  fields: MappedField[];
  /** Source columns the run reads besides mapped fields (key, cursor, shard, soft-delete). */
  readColumns: string[];
  /** SHA-256 over everything that changes what lands in SharePoint. */
  hash: string;
}

/** SharePoint's own field names: a synced column may never take one (DESIGN §4 / issue 4). */
export const RESERVED_COLUMN_NAMES = new Set(
  [
    'Title', 'ID', 'Id', 'Created', 'Modified', 'Author', 'Editor', 'Attachments', 'ContentType', 'ContentTypeId',
    'FileLeafRef', 'FileRef', 'FileDirRef', 'FSObjType', 'GUID', 'Version', 'Order', 'Path', 'Edit', 'LinkTitle',
    'LinkTitleNoMenu', 'DocIcon', 'ItemChildCount', 'FolderChildCount', 'AppAuthor', 'AppEditor', 'ComplianceAssetId',
    '_UIVersionString', '_ModerationStatus', 'Modified_x0020_By', 'Created_x0020_By', 'WorkflowVersion', 'UniqueId',
    'ServerUrl', 'EncodedAbsUrl', 'BaseName', 'MetaInfo', 'Owshiddenversion', 'SelectTitle', 'InstanceID', SYNC_KEY_COLUMN,
  ].map((n) => n.toLowerCase()),
);

/** A valid, stable SharePoint internal name for a source column: ASCII letters/digits/_ , ≤ 32 chars. */
export function sanitiseColumnName(source: string): string {
  const ascii = source.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/ß/g, 'ss');
  let name = ascii.replace(/[^A-Za-z0-9_]+/g, '_').replace(/_+/g, '_').replace(/^_+|_+$/g, '');
  if (!/^[A-Za-z]/.test(name)) name = `c_${name}`;
  return name.slice(0, 32).replace(/_+$/, '') || 'col';
}

/**
 * The internal names provisioning gives the columns of one list: sanitised, never one of
 * SharePoint's own, unique in the list (a second `Title` becomes `Title_1`). The table preview
 * names its columns with it too, so preview and lists agree.
 */
export class ColumnNames {
  private readonly taken = new Set<string>();

  isFree(name: string): boolean {
    return !this.taken.has(name.toLowerCase()) && !RESERVED_COLUMN_NAMES.has(name.toLowerCase());
  }

  /** `wanted` if free, else the first free `wanted_N`; the name is then taken. */
  claim(wanted: string): string {
    let name = wanted;
    for (let n = 1; !this.isFree(name); n++) {
      const suffix = `_${n}`;
      name = wanted.slice(0, 32 - suffix.length) + suffix;
    }
    this.taken.add(name.toLowerCase());
    return name;
  }
}

export function hintFor(col: ColumnInfo): KeyHint {
  if (col.dataType === 'decimal' || col.dataType === 'money') return 'decimal';
  if (col.dataType === 'uuid') return 'uuid';
  if (col.dataType === 'text' || col.dataType === 'char') return 'text';
  return 'other';
}

/** Resolves a definition against the introspected schema; every problem is reported with its path. */
export function resolveMapping(def: SyncDefinition, schema: TableSchema): ResolvedMapping {
  const byName = new Map(schema.columns.map((c) => [c.name, c]));
  const issues: FieldIssue[] = [];
  const need = (name: string | undefined, path: string): ColumnInfo | undefined => {
    if (name === undefined) return undefined;
    const col = byName.get(name);
    if (!col) issues.push({ path, message: `column "${name}" does not exist in ${schema.table.schema}.${schema.table.name}`, code: 'unknown_column' });
    return col;
  };

  const key = def.key ?? defaultKey(schema) ?? [];
  if (key.length === 0) issues.push({ path: 'key', message: 'the table has no primary key or usable unique constraint: name the key columns', code: 'no_key' });
  const keyCols = key.map((k, i) => need(k, `key.${i}`));
  keyCols.forEach((c, i) => {
    if (c && c.nullable && !(schema.primaryKey ?? []).includes(c.name)) {
      issues.push({ path: `key.${i}`, message: `key column "${c.name}" is nullable: rows with NULL there have no identity`, code: 'nullable_key' });
    }
  });
  if (def.cursor.kind !== 'full') need(def.cursor.column, 'cursor.column');
  if (def.deletes.mode === 'softDelete') need(def.deletes.column, 'deletes.column');
  const titleCol = need(def.title, 'title');
  const shardColumns: string[] = [];
  if (def.sharding.strategy === 'rules') def.sharding.rules.forEach((r, i) => (need(r.when.column, `sharding.rules.${i}.when.column`), shardColumns.push(r.when.column)));
  if (def.sharding.strategy === 'date') (need(def.sharding.column, 'sharding.column'), shardColumns.push(def.sharding.column));

  const names = new ColumnNames();
  const fields: MappedField[] = [];
  def.fields.forEach((f, i) => {
    const col = need(f.source, `fields.${i}.source`);
    if (!col) return;
    const proposal = proposeColumn(col, f.type as SpType | undefined);
    if (!proposal.supported || proposal.spType === null) {
      issues.push({ path: `fields.${i}.source`, message: proposal.reason, code: 'unsupported_type' });
      return;
    }
    const wanted = f.target ? sanitiseColumnName(f.target) : sanitiseColumnName(col.name);
    if (f.target && f.target !== wanted) {
      issues.push({ path: `fields.${i}.target`, message: `"${f.target}" is not a valid SharePoint internal name (letters, digits and _; try "${wanted}")`, code: 'invalid_name' });
      return;
    }
    if (f.target && !names.isFree(wanted)) {
      issues.push({ path: `fields.${i}.target`, message: `"${f.target}" is reserved by SharePoint or already used`, code: 'reserved_name' });
      return;
    }
    const target = names.claim(wanted);
    fields.push({ source: col.name, target, displayName: f.target ?? col.name, spType: proposal.spType, proposal, column: col });
  });
  if (issues.length) throw configError('mapping', 'invalid_definition', 'the definition does not fit the table', { details: issues, status: 422 });

  const readColumns = [...new Set([...key, ...fields.map((f) => f.source), ...(def.title ? [def.title] : []), ...(def.cursor.column ? [def.cursor.column] : []), ...(def.deletes.column ? [def.deletes.column] : []), ...shardColumns])];
  const hashInput = JSON.stringify({ key, title: def.title ?? null, fields: fields.map((f) => [f.source, f.target, f.spType, f.proposal.maxLength ?? null, f.proposal.decimalPlaces ?? null]) });
  return {
    key,
    keyHints: keyCols.map((c) => (c ? hintFor(c) : 'other')),
    title: titleCol ? { source: titleCol.name, column: titleCol } : null,
    fields,
    readColumns,
    hash: createHash('sha256').update(hashInput).digest('hex'),
  };
}

/** The list every shard gets: mapped columns (SyncKey is added by the adapter). */
export function listSpecFor(displayName: string, mapping: ResolvedMapping): ListSpec {
  const columns: ColumnSpec[] = mapping.fields.map((f) => ({
    name: f.target,
    displayName: f.displayName,
    type: f.spType,
    ...(f.proposal.maxLength !== undefined && f.spType === 'text' ? { maxLength: f.proposal.maxLength } : {}),
    ...(f.proposal.decimalPlaces !== undefined ? { decimalPlaces: f.proposal.decimalPlaces } : {}),
    ...(f.proposal.choices ? { choices: f.proposal.choices } : {}),
  }));
  return { displayName, columns };
}

export interface MappedRow {
  identity: string;
  key: unknown[];
  fields: Record<string, GraphValue>;
  contentHash: string;
}

/** Maps one row; a value SharePoint cannot hold throws a skippable SyncError naming the column. */
export function mapRow(row: Row, mapping: ResolvedMapping): MappedRow {
  const key = mapping.key.map((k) => row[k]);
  const identity = identityHash(key, mapping.keyHints);
  const fields: Record<string, GraphValue> = {};
  if (mapping.title) {
    const v = row[mapping.title.source];
    fields.Title = v === null || v === undefined ? null : String(toGraphValue(v, mapping.title.column, 'text'));
  }
  for (const f of mapping.fields) fields[f.target] = toGraphValue(row[f.source], f.column, f.proposal);
  return { identity, key, fields, contentHash: contentHash(fields) };
}
