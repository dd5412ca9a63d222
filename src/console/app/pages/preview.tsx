import { useState } from 'preact/hooks';
import type { Ok, Run } from '../api';
import { DataTable, ErrorMessage, Loading, SelectField, useConsole, useLoad } from '../ui';

/**
 * The dry-run preview (Simego's compare preview is the model): every row the dry run would
 * create, update, move or delete, read a stored page at a time from `GET /runs/{runId}/plan`,
 * filtered by operation and list, updates with the fields that would change; exported as CSV
 * with every page of the filter, not only the one shown.
 */

type PlanPage = Ok<'runsPlan'>;
type PlannedOp = PlanPage['items'][number];
const OPS = ['create', 'update', 'move', 'delete'] as const;

const csvCell = (value: string) => (/[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
const valueText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** What an op changes, in words: an update's changed fields with their new values; a create's or move's fields. */
export function changesText(op: PlannedOp): string {
  const fields = Object.entries(op.fields ?? {}).map(([name, value]) => `${name}: ${valueText(value)}`);
  if (op.op === 'update' && op.changedFields === null) return `every field is rewritten (which changed is not known): ${fields.join('; ')}`;
  return fields.join('; ');
}

/** The planned ops as CSV: operation, key, fromList, list, changedFields, fields (JSON of the new values). */
export function planCsv(ops: PlannedOp[]): string {
  const header = 'operation,key,fromList,list,changedFields,fields';
  const rows = ops.map((o) => [o.op, JSON.stringify(o.key), o.fromList ?? '', o.list, o.op === 'update' ? (o.changedFields ?? ['*']).join(' ') : '', JSON.stringify(o.fields ?? {})].map(csvCell).join(','));
  return [header, ...rows].join('\n') + '\n';
}

function filterQuery(op: string, list: string, page: number): string {
  const q = new URLSearchParams();
  if (op) q.set('op', op);
  if (list) q.set('list', list);
  q.set('page', String(page));
  return q.toString();
}

function saveFile(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function PlanPreview({ run }: { run: Run }) {
  const { api, announce } = useConsole();
  const [op, setOp] = useState('');
  const [list, setList] = useState('');
  const [page, setPage] = useState(0);
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<unknown>();
  const path = `runs/${encodeURIComponent(run.runId)}/plan`;
  const current = useLoad(() => api.call('runsPlan', 'GET', `${path}?${filterQuery(op, list, page)}`), [run.runId, op, list, page]);
  const shown = current.data;

  const exportAll = async () => {
    setExporting(true);
    setExportError(undefined);
    try {
      const ops: PlannedOp[] = [];
      let pages = 1;
      for (let p = 0; p < pages; p++) {
        const next = await api.call('runsPlan', 'GET', `${path}?${filterQuery(op, list, p)}`);
        pages = next.pages;
        ops.push(...next.items);
      }
      saveFile(`${run.runId}-plan${op ? `-${op}` : ''}.csv`, planCsv(ops));
      announce(`exported ${ops.length} planned rows as CSV`);
    } catch (error) {
      setExportError(error);
    } finally {
      setExporting(false);
    }
  };

  const filterChanged = (change: () => void) => {
    change();
    setPage(0);
  };
  const lists = shown?.lists ?? [];
  return (
    <div class="preview" aria-labelledby={`preview-${run.runId}`}>
      <h4 id={`preview-${run.runId}`}>Every row the dry run would change</h4>
      <div class="row">
        <SelectField label="Show operation" value={op} onChange={(v) => filterChanged(() => setOp(v))} options={[{ value: '', label: 'all' }, ...OPS.map((o) => ({ value: o, label: o }))]} />
        <SelectField label="Show list" value={list} onChange={(v) => filterChanged(() => setList(v))} options={[{ value: '', label: 'all lists' }, ...lists.map((l) => ({ value: l, label: l }))]} />
      </div>
      {current.error ? <ErrorMessage error={current.error} /> : !shown ? <Loading what="the plan" /> : null}
      {shown && (
        <>
          <nav class="row pager" aria-label="Plan pages">
            <button type="button" class="secondary" disabled={page === 0} onClick={() => setPage(page - 1)}>
              Previous page
            </button>
            <p data-testid="plan-page" aria-live="polite">
              {shown.pages === 0 ? 'Nothing planned for this filter' : `Page ${shown.page + 1} of ${shown.pages} · ${shown.total} planned rows match`}
            </p>
            <button type="button" class="secondary" disabled={page + 1 >= shown.pages} onClick={() => setPage(page + 1)}>
              Next page
            </button>
          </nav>
          <p>
            <button type="button" class="secondary" disabled={exporting || shown.total === 0} aria-busy={exporting ? 'true' : undefined} onClick={() => void exportAll()}>
              Export all {shown.total} planned rows as CSV
            </button>
          </p>
          <ErrorMessage error={exportError} />
          <DataTable caption={`Planned rows, page ${shown.pages === 0 ? 0 : shown.page + 1} of ${shown.pages}`} columns={['Operation', 'Key', 'List', 'Changes (new values)']}>
            {shown.items.map((o) => (
              <tr key={`${o.op}-${o.identityHash}`}>
                <td>{o.op}</td>
                <th scope="row">{JSON.stringify(o.key)}</th>
                <td>{o.fromList ? `${o.fromList} → ${o.list}` : o.list}</td>
                <td>{changesText(o)}</td>
              </tr>
            ))}
          </DataTable>
        </>
      )}
    </div>
  );
}
