import { useState } from 'preact/hooks';
import { identityHash } from '../../../core/identity';
import { hintFor } from '../../../core/mapping';
import { isValidNcrontab, nextOccurrence, parseNcrontab } from '../../../core/ncrontab';
import type { ColumnInfo } from '../../../core/ports/source';
import { shardList } from '../../../core/sharding';
import type { DefinitionInput, TableDescription } from '../api';
import { CheckboxField, SelectField, TextField, DataTable } from '../ui';

/**
 * The wizard's steps after the table is chosen. Each edits one part of the draft definition
 * and shows what it will mean: the names provisioning uses, key and cursor warnings, which
 * list sample rows go to (the product's own sharding code), the schedule's next fire times.
 */

export interface StepProps {
  draft: DefinitionInput;
  table: TableDescription;
  update(patch: Partial<DefinitionInput>): void;
}

type Column = TableDescription['columns'][number];
const SP_TYPES = ['text', 'note', 'number', 'currency', 'boolean', 'dateTime', 'dateOnly', 'choice'] as const;
const options = (names: string[]) => names.map((n) => ({ value: n, label: n }));

export function FieldsStep({ draft, table, update }: StepProps) {
  const chosen = new Map(draft.fields.map((f) => [f.source, f]));
  const setField = (column: Column, include: boolean, patch: { target?: string; type?: (typeof SP_TYPES)[number] } = {}) => {
    const rest = draft.fields.filter((f) => f.source !== column.name);
    const current = chosen.get(column.name) ?? { source: column.name };
    const fields = include ? draft.fields.map((f) => (f.source === column.name ? { ...current, ...patch } : f)) : rest;
    if (include && !chosen.has(column.name)) fields.push({ ...current, ...patch });
    update({ fields });
  };
  return (
    <>
      <DataTable caption={`Columns of ${table.table.schema}.${table.table.name}: the SharePoint names and types provisioning will use`} columns={['Sync', 'Column', 'SharePoint column name', 'SharePoint type', 'Notes']}>
        {table.columns.map((c) => {
          const field = chosen.get(c.name);
          return (
            <tr key={c.name}>
              <td>
                <CheckboxField label={`Sync ${c.name}`} checked={Boolean(field)} onChange={(on) => setField(c, on)} />
              </td>
              <th scope="row">
                {c.name} <span class="hint">{c.nativeType}{c.nullable ? ', nullable' : ''}</span>
              </th>
              <td>
                {field ? <TextField label={`SharePoint name for ${c.name}`} value={field.target ?? c.proposed.name} onInput={(target) => setField(c, true, { target })} /> : c.proposed.name}
              </td>
              <td>
                {field && c.proposed.supported ? (
                  <SelectField label={`Type for ${c.name}`} value={field.type ?? c.proposed.spType ?? 'text'} options={options([...SP_TYPES])} onChange={(type) => setField(c, true, { type: type as (typeof SP_TYPES)[number] })} />
                ) : (
                  (c.proposed.spType ?? 'not supported')
                )}
              </td>
              <td>
                {c.proposed.reason}
                {c.proposed.warnings.map((w) => (
                  <p key={w} class="warn">
                    {w}
                  </p>
                ))}
              </td>
            </tr>
          );
        })}
      </DataTable>
      <SelectField label="Title column (the item's title in SharePoint)" value={draft.title ?? ''} options={[{ value: '', label: '(none)' }, ...options(table.columns.map((c) => c.name))]} onChange={(title) => update({ title: title || undefined })} />
    </>
  );
}

/** Key problems that would make identities unstable or ambiguous; empty when the key is sound. */
export function keyProblems(key: string[], table: TableDescription): string[] {
  if (key.length === 0) return ['choose at least one key column'];
  const byName = new Map(table.columns.map((c) => [c.name, c]));
  const problems = key.filter((k) => byName.get(k)?.nullable).map((k) => `${k} is nullable: a row without a value would have no identity`);
  const unique = [table.primaryKey ?? [], ...table.uniqueConstraints.map((u) => u.columns), ...table.indexes.filter((i) => i.unique && !i.predicate).map((i) => i.columns)];
  const covered = unique.some((cols) => cols.length > 0 && cols.every((c) => c !== null && key.includes(c)));
  if (!covered) problems.push('no primary key, unique constraint or unique index covers these columns: the database does not promise they are unique');
  return problems;
}

export function KeyStep({ draft, table, update }: StepProps) {
  const key = draft.key ?? table.defaultKey ?? [];
  const strategies = [
    ...(table.primaryKey?.length ? [{ value: `pk`, label: `Primary key (${table.primaryKey.join(', ')})`, columns: table.primaryKey }] : []),
    ...table.uniqueConstraints.map((u) => ({ value: `uc:${u.name}`, label: `Unique constraint ${u.name} (${u.columns.join(', ')})`, columns: u.columns })),
  ];
  const matching = strategies.find((s) => s.columns.join() === key.join());
  const [custom, setCustom] = useState(!matching);
  const problems = keyProblems(key, table);
  return (
    <fieldset>
      <legend>Which columns identify a row</legend>
      {strategies.map((s) => (
        <div class="check" key={s.value}>
          <input type="radio" id={`key-${s.value}`} name="key-strategy" checked={!custom && matching?.value === s.value} onChange={() => (setCustom(false), update({ key: [...s.columns] }))} />
          <label for={`key-${s.value}`}>{s.label}</label>
        </div>
      ))}
      <div class="check">
        <input type="radio" id="key-custom" name="key-strategy" checked={custom} onChange={() => setCustom(true)} />
        <label for="key-custom">Chosen columns</label>
      </div>
      {custom &&
        table.columns.map((c) => (
          <CheckboxField key={c.name} label={`Key column ${c.name}`} checked={key.includes(c.name)} onChange={(on) => update({ key: on ? [...key, c.name] : key.filter((k) => k !== c.name) })} />
        ))}
      <div role="status">{problems.length === 0 ? <p class="ok">The key is unique and never empty.</p> : problems.map((p) => <p key={p} class="error">{p}</p>)}</div>
    </fieldset>
  );
}

const CURSOR_TYPES: Record<'timestamp' | 'rowversion' | 'integer', string[]> = {
  timestamp: ['timestamp', 'timestamptz', 'datetime', 'datetime2', 'datetimeoffset', 'date'],
  rowversion: ['rowversion'],
  integer: ['int', 'bigint'],
};

/** Why a cursor column may miss changes: no index to read by, empty values, values that do not only grow. */
export function cursorWarnings(column: Column | undefined, kind: string, table: TableDescription): string[] {
  if (kind === 'full' || !column) return [];
  const warnings: string[] = [];
  if (!table.indexes.some((i) => i.columns[0] === column.name)) warnings.push(`no index starts with ${column.name}: every run scans the table`);
  if (column.nullable) warnings.push(`${column.name} is nullable: rows with no value are never read incrementally`);
  const monotonic = column.isRowVersion || column.isIdentity || (kind === 'timestamp' && /updated|modified|changed/i.test(column.name));
  if (!monotonic) warnings.push(`${column.name} is not known to grow on every change (not an identity, rowversion or updated-at column)`);
  return warnings;
}

export function CursorStep({ draft, table, update }: StepProps) {
  const kind = draft.cursor.kind;
  const suitable = kind === 'full' ? [] : table.columns.filter((c) => CURSOR_TYPES[kind].includes(c.dataType) || (kind === 'rowversion' && c.isRowVersion));
  const column = table.columns.find((c) => c.name === draft.cursor.column);
  const warnings = cursorWarnings(column, kind, table);
  return (
    <>
      <SelectField
        label="Cursor kind"
        value={kind}
        options={[
          { value: 'timestamp', label: 'timestamp (updated-at column, with a look-back window)' },
          { value: 'rowversion', label: 'rowversion (SQL Server)' },
          { value: 'integer', label: 'integer (growing id)' },
          { value: 'full', label: 'full (compare every row each run)' },
        ]}
        onChange={(k) => update({ cursor: { kind: k as typeof kind, column: k === 'full' ? undefined : draft.cursor.column, lookbackSeconds: k === 'timestamp' ? (draft.cursor.lookbackSeconds ?? 60) : undefined } })}
      />
      {kind !== 'full' && (
        <SelectField
          label="Cursor column"
          value={draft.cursor.column ?? ''}
          options={[{ value: '', label: '(choose)' }, ...suitable.map((c) => ({ value: c.name, label: `${c.name} (${c.nativeType})${cursorWarnings(c, kind, table).length === 0 ? ' — suggested' : ''}` }))]}
          onChange={(c) => update({ cursor: { ...draft.cursor, column: c || undefined } })}
          hint={suitable.length === 0 ? `no ${kind} column in this table` : `columns of a ${kind} type`}
        />
      )}
      {kind === 'timestamp' && <TextField label="Look-back window (seconds)" type="number" value={String(draft.cursor.lookbackSeconds ?? 60)} onInput={(s) => update({ cursor: { ...draft.cursor, lookbackSeconds: Number(s) || 0 } })} />}
      <div role="status">
        {warnings.map((w) => (
          <p key={w} class="warn">
            Warning: {w}
          </p>
        ))}
      </div>
    </>
  );
}

export function DeletesStep({ draft, table, update }: StepProps) {
  const deletes = draft.deletes ?? { mode: 'none' as const };
  return (
    <>
      <SelectField
        label="Deletes"
        value={deletes.mode}
        options={[
          { value: 'none', label: 'none: items stay when rows go' },
          { value: 'softDelete', label: 'soft delete: a column marks deleted rows' },
          { value: 'reconcile', label: 'reconcile: compare keys every N runs' },
        ]}
        onChange={(mode) => update({ deletes: { mode: mode as typeof deletes.mode } })}
      />
      {deletes.mode === 'softDelete' && (
        <>
          <SelectField label="Soft-delete column" value={deletes.column ?? ''} options={[{ value: '', label: '(choose)' }, ...options(table.columns.map((c) => c.name))]} onChange={(column) => update({ deletes: { ...deletes, column: column || undefined, value: deletes.value ?? true } })} />
          <TextField label="Value that means deleted" value={String(deletes.value ?? true)} onInput={(v) => update({ deletes: { ...deletes, value: v === 'true' ? true : v === 'false' ? false : v } })} />
        </>
      )}
      {deletes.mode === 'reconcile' && <TextField label="Reconcile every N runs" type="number" value={String(deletes.everyRuns ?? 10)} onInput={(n) => update({ deletes: { ...deletes, everyRuns: Number(n) || 1 } })} />}
    </>
  );
}

type Sharding = DefinitionInput['sharding'];
const FILTER_OPS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'startsWith', 'isNull'] as const;

function defaultSharding(strategy: Sharding['strategy'], table: TableDescription): Sharding {
  const dateColumn = table.columns.find((c) => CURSOR_TYPES.timestamp.includes(c.dataType))?.name ?? table.columns[0]!.name;
  switch (strategy) {
    case 'none':
      return { strategy, list: table.table.name };
    case 'date':
      return { strategy, column: dateColumn, period: 'year', listTemplate: `${table.table.name} {yyyy}` };
    case 'hash':
      return { strategy, buckets: 4, listTemplate: `${table.table.name} {n}` };
    case 'rules':
      return { strategy, rules: [{ when: { column: table.columns[0]!.name, op: 'eq', value: '' }, list: `${table.table.name} A` }], default: `${table.table.name} other` };
  }
}

/** Sample values for the preview: dates spread over three years, numbers 1..n, editable by the admin. */
function sampleValue(column: Column | undefined, i: number): string {
  if (!column) return '';
  if (CURSOR_TYPES.timestamp.includes(column.dataType)) return new Date(Date.UTC(new Date().getUTCFullYear() - i, (i * 5) % 12, 15)).toISOString().slice(0, 10);
  return String(i + 1);
}

function ShardPreview({ draft, table }: { draft: DefinitionInput; table: TableDescription }) {
  const sharding = draft.sharding;
  const key = draft.key ?? table.defaultKey ?? [];
  const column = sharding.strategy === 'date' ? sharding.column : sharding.strategy === 'rules' ? sharding.rules[0]?.when.column : key[0];
  const columnInfo = table.columns.find((c) => c.name === column);
  const [samples, setSamples] = useState(() => [0, 1, 2].map((i) => sampleValue(columnInfo, i)));
  const routed = samples.map((value) => {
    const row: Record<string, unknown> = Object.fromEntries(table.columns.map((c) => [c.name, null]));
    if (column) row[column] = columnInfo && ['int', 'bigint', 'float'].includes(columnInfo.dataType) && value !== '' ? Number(value) : value;
    const keyColumns = key.map((k) => table.columns.find((c) => c.name === k)).filter((c): c is Column => Boolean(c));
    try {
      return shardList(row, sharding as never, identityHash(keyColumns.map((c) => row[c.name]), keyColumns.map((c) => hintFor(c as unknown as ColumnInfo))));
    } catch (error) {
      return `refused: ${(error as Error).message}`;
    }
  });
  return (
    <table>
      <caption>Live preview: the list each sample row goes to (edit the values to try others)</caption>
      <thead>
        <tr>
          <th scope="col">Sample {column ?? 'value'}</th>
          <th scope="col">List</th>
        </tr>
      </thead>
      <tbody aria-live="polite">
        {samples.map((value, i) => (
          <tr key={i}>
            <td>
              <TextField label={`Sample ${i + 1} ${column ?? ''}`} value={value} onInput={(v) => setSamples(samples.map((s, j) => (j === i ? v : s)))} />
            </td>
            <td data-testid={`preview-list-${i}`}>{routed[i]}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ShardingStep({ draft, table, update }: StepProps) {
  const sharding = draft.sharding;
  const set = (next: Sharding) => update({ sharding: next });
  const columns = options(table.columns.map((c) => c.name));
  return (
    <>
      <SelectField
        label="Sharding"
        value={sharding.strategy}
        options={[
          { value: 'none', label: 'none: one list' },
          { value: 'date', label: 'date: one list per year, quarter or month' },
          { value: 'hash', label: 'hash: N lists by key' },
          { value: 'rules', label: 'rules: a list per condition' },
        ]}
        onChange={(s) => set(defaultSharding(s as Sharding['strategy'], table))}
      />
      {sharding.strategy === 'none' && <TextField label="List name" value={sharding.list} onInput={(list) => set({ ...sharding, list })} />}
      {sharding.strategy === 'date' && (
        <>
          <SelectField label="Date column" value={sharding.column} options={columns} onChange={(column) => set({ ...sharding, column })} />
          <SelectField label="Period" value={sharding.period} options={options(['year', 'quarter', 'month'])} onChange={(period) => set({ ...sharding, period: period as 'year' })} />
          <TextField label="List name template" value={sharding.listTemplate} onInput={(listTemplate) => set({ ...sharding, listTemplate })} hint="must contain {yyyy}; {q} and {mm} for quarters and months" />
          <TextField label="List for rows without a date" value={sharding.nullList ?? ''} onInput={(nullList) => set({ ...sharding, nullList: nullList || undefined })} hint="empty: such rows are refused" />
        </>
      )}
      {sharding.strategy === 'hash' && (
        <>
          <TextField label="Number of lists" type="number" value={String(sharding.buckets)} onInput={(n) => set({ ...sharding, buckets: Math.max(1, Number(n) || 1) })} />
          <TextField label="List name template" value={sharding.listTemplate} onInput={(listTemplate) => set({ ...sharding, listTemplate })} hint="must contain {n}" />
        </>
      )}
      {sharding.strategy === 'rules' && (
        <>
          {sharding.rules.map((rule, i) => {
            const setRule = (patch: Partial<typeof rule>) => set({ ...sharding, rules: sharding.rules.map((r, j) => (j === i ? { ...r, ...patch } : r)) });
            return (
              <fieldset key={i}>
                <legend>Rule {i + 1}</legend>
                <div class="row">
                  <SelectField label={`Rule ${i + 1} column`} value={rule.when.column} options={columns} onChange={(column) => setRule({ when: { ...rule.when, column } })} />
                  <SelectField label={`Rule ${i + 1} operator`} value={rule.when.op} options={options([...FILTER_OPS])} onChange={(op) => setRule({ when: { ...rule.when, op: op as 'eq' } })} />
                  <TextField label={`Rule ${i + 1} value`} value={String(rule.when.value ?? '')} onInput={(value) => setRule({ when: { ...rule.when, value } })} />
                  <TextField label={`Rule ${i + 1} list`} value={rule.list} onInput={(list) => setRule({ list })} />
                </div>
                <button type="button" class="secondary" onClick={() => set({ ...sharding, rules: sharding.rules.filter((_, j) => j !== i) })} disabled={sharding.rules.length === 1}>
                  Remove rule {i + 1}
                </button>
              </fieldset>
            );
          })}
          <button type="button" class="secondary" onClick={() => set({ ...sharding, rules: [...sharding.rules, { when: { column: table.columns[0]!.name, op: 'eq' as const, value: '' }, list: '' }] })}>
            Add rule
          </button>
          <TextField label="List for rows no rule matches" value={sharding.default} onInput={(d) => set({ ...sharding, default: d })} />
        </>
      )}
      <ShardPreview key={`${sharding.strategy}-${sharding.strategy === 'date' ? sharding.column : ''}`} draft={draft} table={table} />
    </>
  );
}

export function ScheduleStep({ draft, update }: Omit<StepProps, 'table'>) {
  const schedule = draft.schedule ?? '';
  const problem = schedule ? isValidNcrontab(schedule) : null;
  const next: string[] = [];
  if (schedule && !problem) {
    let at = new Date();
    const parsed = parseNcrontab(schedule);
    for (let i = 0; i < 5; i++) next.push((at = nextOccurrence(parsed, at)).toISOString().replace('.000Z', 'Z'));
  }
  return (
    <>
      <TextField label="Schedule (six-field NCRONTAB, UTC)" value={schedule} onInput={(s) => update({ schedule: s || null })} hint="second minute hour day month weekday, e.g. 0 */5 * * * * (every five minutes); empty: on demand only" />
      <div role="status">
        {problem ? (
          <p class="error">Invalid schedule: {problem}</p>
        ) : next.length ? (
          <>
            <p>Next fire times:</p>
            <ol>
              {next.map((n) => (
                <li key={n}>{n}</li>
              ))}
            </ol>
          </>
        ) : (
          <p>Runs only when started by hand.</p>
        )}
      </div>
    </>
  );
}
