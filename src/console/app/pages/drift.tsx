import { useEffect, useState } from 'preact/hooks';
import type { Ok } from '../api';
import { ChangeButton, CheckboxField, DataTable, ErrorMessage, Section, SelectField, useAction, useConsole, useLoad } from '../ui';

/** Drift: check the lists against the ledger, read the report by kind, dry-run and run repairs. */

type Report = Ok<'driftGet'>;
type Kind = NonNullable<Report['differences']['kind']>;
type Action = Report['repairs'][number]['actions'][number];

const KINDS: Record<Kind, { label: string; actions: Action[] }> = {
  missingInSharePoint: { label: 'missing in SharePoint', actions: ['recreateMissing'] },
  orphanInSharePoint: { label: 'orphan items in SharePoint', actions: ['adoptOrphans', 'deleteOrphans'] },
  pointsElsewhere: { label: 'ledger points at another item', actions: ['fixPointers'] },
  duplicateInSharePoint: { label: 'duplicates in SharePoint', actions: ['removeDuplicates'] },
  contentMismatch: { label: 'content differs from the row', actions: ['rewriteMismatches'] },
};
const ACTION_LABELS: Record<Action, string> = {
  recreateMissing: 'Recreate missing items',
  adoptOrphans: 'Adopt orphans whose key matches a row',
  deleteOrphans: 'Delete orphan items',
  fixPointers: 'Point the ledger at the right item',
  removeDuplicates: 'Remove duplicates',
  rewriteMismatches: 'Rewrite items whose content differs',
};
const SETTLED = new Set(['done', 'failed', 'refused']);

/** `drift state` for the dashboard: what the newest report found. */
export function driftState(report: Ok<'driftList'>['items'][number] | undefined): string {
  if (!report) return 'never checked';
  if (!SETTLED.has(report.status)) return `check ${report.status}`;
  if (report.status !== 'done') return `check ${report.status}${report.error ? `: ${report.error}` : ''}`;
  const found = (Object.keys(KINDS) as Kind[]).reduce((n, k) => n + report.counts[k], 0);
  return found === 0 ? `in step (checked ${report.finishedAt ?? report.createdAt})` : `${found} differences (checked ${report.finishedAt ?? report.createdAt})`;
}

function RepairForm({ id, report, onRepaired }: { id: string; report: Report; onRepaired(): void }) {
  const { api } = useConsole();
  const found = (Object.keys(KINDS) as Kind[]).filter((k) => report.counts[k] > 0);
  const offered = found.flatMap((k) => KINDS[k].actions);
  const [chosen, setChosen] = useState<Action[]>(() => offered.filter((a) => a !== 'deleteOrphans'));
  const [dryRun, setDryRun] = useState<Ok<'driftRepair'>>();
  const path = `definitions/${encodeURIComponent(id)}/drift/${encodeURIComponent(report.reportId)}/repair`;
  const preview = useAction(async () => {
    const result = await api.call('driftRepair', 'POST', path, { actions: chosen, dryRun: true });
    setDryRun(result);
    return result;
  }, () => 'repair dry run ready');
  const repair = useAction(async () => {
    const result = await api.call('driftRepair', 'POST', path, { actions: chosen, dryRun: false });
    onRepaired();
    return result;
  }, () => 'repair queued');
  if (offered.length === 0) return null;
  const wouldRepair = dryRun && dryRun.dryRun ? dryRun.actions : null;
  return (
    <fieldset>
      <legend>Repair</legend>
      {offered.map((a) => (
        <CheckboxField key={a} label={ACTION_LABELS[a]} checked={chosen.includes(a)} onChange={(on) => setChosen(on ? [...chosen, a] : chosen.filter((c) => c !== a))} />
      ))}
      <ErrorMessage error={preview.error ?? repair.error} />
      <ChangeButton kind="secondary" busy={preview.busy} onClick={() => void preview.run()}>
        Dry-run the repair
      </ChangeButton>
      {wouldRepair && (
        <DataTable caption="What the repair would do" columns={['Action', 'Items']}>
          {Object.entries(wouldRepair).map(([action, r]) => (
            <tr key={action}>
              <th scope="row">{ACTION_LABELS[action as Action] ?? action}</th>
              <td>{r.wouldRepair}</td>
            </tr>
          ))}
        </DataTable>
      )}
      {wouldRepair && (
        <ChangeButton busy={repair.busy} onClick={() => void repair.run()}>
          Repair now
        </ChangeButton>
      )}
    </fieldset>
  );
}

function ReportView({ id, reportId }: { id: string; reportId: string }) {
  const { api, announce } = useConsole();
  const [kind, setKind] = useState<Kind | ''>('');
  const [round, setRound] = useState(0);
  const report = useLoad(() => api.call('driftGet', 'GET', `definitions/${encodeURIComponent(id)}/drift/${encodeURIComponent(reportId)}${kind ? `?kind=${kind}` : ''}`), [reportId, kind, round]);
  const data = report.data;
  const pending = data && (!SETTLED.has(data.status) || data.repairs.some((r) => r.status === 'queued' || r.status === 'running'));
  useEffect(() => {
    // Poll while the check or a repair is still going.
    if (!pending) return;
    const timer = setTimeout(() => setRound((r) => r + 1), 500);
    return () => clearTimeout(timer);
  }, [pending, data]);
  useEffect(() => {
    if (data && SETTLED.has(data.status) && !pending) announce(`drift check ${data.status}: ${driftState({ ...data })}`);
  }, [data?.status, pending]);
  if (report.error) return <ErrorMessage error={report.error} />;
  if (!data) return <p role="status">Loading the report…</p>;
  return (
    <div class="card">
      <h3>
        Report {data.reportId} ({data.mode})
      </h3>
      <p role="status" data-testid="drift-status">
        {data.status === 'done' ? driftState({ ...data }) : `check ${data.status}`}; {data.counts.itemsScanned} items scanned, {data.ruSpent} RU, {data.requests} requests
      </p>
      {data.status === 'done' && (
        <>
          <DataTable caption="Differences by kind" columns={['Kind', 'Count']}>
            {(Object.keys(KINDS) as Kind[]).map((k) => (
              <tr key={k}>
                <th scope="row">{KINDS[k].label}</th>
                <td>{data.counts[k]}</td>
              </tr>
            ))}
          </DataTable>
          <SelectField label="Show kind" value={kind} options={[{ value: '', label: 'all' }, ...(Object.keys(KINDS) as Kind[]).map((k) => ({ value: k, label: KINDS[k].label }))]} onChange={(k) => setKind(k as Kind | '')} />
          <DataTable caption={`Differences, page ${data.differences.page + 1} of ${Math.max(1, data.differences.pages)}`} columns={['Kind', 'List / item', 'Key', 'Detail']}>
            {data.differences.items.map((d) => (
              <tr key={`${d.kind}-${d.listId}-${d.itemId}`}>
                <td>{KINDS[d.kind].label}</td>
                <td>
                  {d.listId} / {d.itemId}
                </td>
                <td>{d.key ? JSON.stringify(d.key) : '–'}</td>
                <td>{d.fields?.map((f) => `${f.field}: ${JSON.stringify(f.sharePoint)} → ${JSON.stringify(f.source)}`).join('; ') ?? d.reason ?? ''}</td>
              </tr>
            ))}
          </DataTable>
          {data.repairs.length > 0 && (
            <DataTable caption="Repairs of this report" columns={['Actions', 'Status', 'Repaired']}>
              {data.repairs.map((r) => (
                <tr key={r.repairId}>
                  <td>{r.actions.map((a) => ACTION_LABELS[a]).join(', ')}</td>
                  <td>{r.status}</td>
                  <td>{Object.entries(r.repaired).map(([a, n]) => `${ACTION_LABELS[a as Action] ?? a}: ${n}`).join(', ')}{r.error ? ` — ${r.error}` : ''}</td>
                </tr>
              ))}
            </DataTable>
          )}
          <RepairForm key={data.repairs.length} id={id} report={data} onRepaired={() => setRound((r) => r + 1)} />
        </>
      )}
    </div>
  );
}

export function DriftSection({ id }: { id: string }) {
  const { api } = useConsole();
  const [current, setCurrent] = useState<string>();
  const reports = useLoad(() => api.call('driftList', 'GET', `definitions/${encodeURIComponent(id)}/drift?limit=10`), [id, current]);
  const check = useAction(async (mode: 'quick' | 'deep') => {
    const queued = await api.call('driftCheck', 'POST', `definitions/${encodeURIComponent(id)}/drift`, { mode });
    setCurrent(queued.reportId);
    return queued;
  }, (q) => `drift check ${q.reportId} queued`);
  const shown = current ?? reports.data?.items[0]?.reportId;
  return (
    <Section title="Drift">
      <ChangeButton kind="secondary" busy={check.busy} onClick={() => void check.run('quick')}>
        Quick drift check
      </ChangeButton>
      <ChangeButton kind="secondary" busy={check.busy} onClick={() => void check.run('deep')}>
        Deep drift check (fields too)
      </ChangeButton>
      <ErrorMessage error={check.error ?? reports.error} />
      {shown ? <ReportView key={shown} id={id} reportId={shown} /> : <p>No drift check yet.</p>}
    </Section>
  );
}
