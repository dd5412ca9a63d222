import { useEffect, useState } from 'preact/hooks';
import type { Run } from '../api';
import { DriftSection } from './drift';
import { FailoverSection } from './failover';
import { PlanPreview } from './preview';
import { ChangeButton, DataTable, ErrorMessage, Loading, Section, formatDuration, useAction, useConsole, useLoad } from '../ui';

/**
 * One definition: start runs and watch them (progress from batches settled ÷ expected), the
 * dry-run preview (preview.tsx), failures with their reasons and retry, and the moves audit.
 */

const FINISHED = new Set(['succeeded', 'partial', 'failed', 'refused', 'cancelled']);

type PlanCounts = Record<'create' | 'update' | 'move' | 'delete' | 'unchanged', number>;
/** The part of a run's recorded plan the console shows (the API documents `plan` as opaque). */
interface RecordedPlan {
  byList?: Record<string, PlanCounts>;
  pagesDeleted?: boolean;
}

function PlannedPerList({ run }: { run: Run }) {
  const byList = (run.plan as RecordedPlan | undefined)?.byList ?? {};
  return (
    <DataTable caption="What the dry run would do, per list" columns={['List', 'Create', 'Update', 'Move', 'Delete', 'Unchanged']}>
      {Object.entries(byList).map(([list, c]) => (
        <tr key={list}>
          <th scope="row">{list}</th>
          <td>{c.create}</td>
          <td>{c.update}</td>
          <td>{c.move}</td>
          <td>{c.delete}</td>
          <td>{c.unchanged}</td>
        </tr>
      ))}
    </DataTable>
  );
}

/** Polls a run until it finishes; the progress bar and counts sit in a live region. */
function RunProgress({ runId, onFinished }: { runId: string; onFinished(run: Run): void }) {
  const { api, announce } = useConsole();
  const [run, setRun] = useState<Run>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let stopped = false;
    const poll = async () => {
      while (!stopped) {
        try {
          const current = await api.call('runsGet', 'GET', `runs/${encodeURIComponent(runId)}`);
          setRun(current);
          if (FINISHED.has(current.status)) {
            announce(`run ${current.status}: ${current.counts.created} created, ${current.counts.updated} updated, ${current.counts.failed} failed`);
            onFinished(current);
            return;
          }
        } catch (e) {
          // 404 until the planner picks the run up; anything else is shown.
          if ((e as { status?: number }).status !== 404) setError(e);
        }
        await new Promise((r) => setTimeout(r, 400));
      }
    };
    void poll();
    return () => {
      stopped = true;
    };
  }, [runId]);
  const cancel = useAction(() => api.call('runsCancel', 'POST', `runs/${encodeURIComponent(runId)}/cancel`), () => `run ${runId} cancelled`);
  const expected = run?.batchesExpected ?? 0;
  const settled = run?.batchesSettled ?? 0;
  const done = run ? FINISHED.has(run.status) : false;
  const percent = done ? 100 : expected > 0 ? Math.round((settled / expected) * 100) : 0;
  return (
    <div class="card" aria-labelledby={`progress-${runId}`}>
      <h3 id={`progress-${runId}`}>Run {runId}</h3>
      <ErrorMessage error={error} />
      <label for={`bar-${runId}`}>Progress</label>{' '}
      <progress id={`bar-${runId}`} max={100} value={percent} aria-valuetext={`${percent}% (${settled} of ${expected} batches)`} />
      <div role="status" aria-live="polite" data-testid="run-status">
        {run ? (
          <p>
            <span class={`status-${run.status}`}>{run.status}</span>: {settled} of {expected} batches settled; read {run.counts.read}, created {run.counts.created}, updated {run.counts.updated}, unchanged {run.counts.unchanged}, moved {run.counts.moved}, deleted {run.counts.deleted}, failed {run.counts.failed}
            {run.error ? ` — ${run.error}` : ''}
            {run.waitingUntil && !done ? ` — waiting until ${run.waitingUntil}${run.waitingReason ? ` (${run.waitingReason})` : ''}` : ''}
          </p>
        ) : (
          <p>queued, waiting for the planner…</p>
        )}
      </div>
      {!done && (
        <ChangeButton kind="danger" busy={cancel.busy} onClick={() => void cancel.run()}>
          Cancel run
        </ChangeButton>
      )}
      <ErrorMessage error={cancel.error} />
      {run && run.mode === 'dryRun' && done && (
        <>
          <PlannedPerList run={run} />
          {(run.plan as RecordedPlan | undefined)?.pagesDeleted ? <p>The stored plan of this dry run was deleted (a definition keeps the plans of its newest 5 dry runs). Start another dry run to preview again.</p> : <PlanPreview run={run} />}
        </>
      )}
    </div>
  );
}

function RunsSection({ id, watching, setWatching }: { id: string; watching?: string; setWatching(runId: string): void }) {
  const { api } = useConsole();
  const runs = useLoad(() => api.call('runsList', 'GET', `definitions/${encodeURIComponent(id)}/runs?limit=20`), [id, watching]);
  const start = useAction(async (mode: 'incremental' | 'full' | 'dryRun') => {
    const accepted = await api.call('runsRequest', 'POST', `definitions/${encodeURIComponent(id)}/runs`, { mode });
    setWatching(accepted.runId);
    return accepted;
  }, (a) => `run ${a.runId} queued`);
  return (
    <Section title="Runs">
      <div class="row">
        <ChangeButton busy={start.busy} onClick={() => void start.run('dryRun')} kind="secondary">
          Dry run (preview)
        </ChangeButton>
        <ChangeButton busy={start.busy} onClick={() => void start.run('incremental')}>
          Run now
        </ChangeButton>
        <ChangeButton busy={start.busy} onClick={() => void start.run('full')} kind="secondary">
          Full run
        </ChangeButton>
      </div>
      <ErrorMessage error={start.error} />
      {watching && <RunProgress key={watching} runId={watching} onFinished={runs.reload} />}
      {runs.error ? <ErrorMessage error={runs.error} /> : !runs.data ? <Loading what="runs" /> : null}
      {runs.data && (
        <DataTable caption="Run history, newest first" columns={['Run', 'Mode', 'Status', 'Started', 'Duration', 'Created / updated / moved / deleted / failed', 'RU spent']}>
          {runs.data.items.map((r) => (
            <tr key={r.runId}>
              <th scope="row">
                <button type="button" class="link" onClick={() => setWatching(r.runId)}>
                  {r.runId}
                </button>
              </th>
              <td>{r.mode}</td>
              <td class={`status-${r.status}`}>{r.status}</td>
              <td>{r.startedAt}</td>
              <td>{formatDuration(r.startedAt, r.finishedAt)}</td>
              <td>
                {r.counts.created} / {r.counts.updated} / {r.counts.moved} / {r.counts.deleted} / {r.counts.failed}
              </td>
              <td>{r.ruSpent ?? 0}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </Section>
  );
}

function FailuresSection({ id }: { id: string }) {
  const { api } = useConsole();
  const failures = useLoad(() => api.call('failuresList', 'GET', `definitions/${encodeURIComponent(id)}/failures?includeQuarantined=true`), [id]);
  const retry = useAction(async (identityHashes?: string[]) => {
    const result = await api.call('failuresRetry', 'POST', `definitions/${encodeURIComponent(id)}/failures/retry`, identityHashes ? { identityHashes } : {});
    failures.reload();
    return result;
  }, (r) => `${r.retried} failures released for the next run`);
  const items = failures.data?.items ?? [];
  return (
    <Section title="Failures">
      {failures.error ? <ErrorMessage error={failures.error} /> : !failures.data ? <Loading what="failures" /> : null}
      {failures.data && items.length === 0 && <p>No rows were refused.</p>}
      {items.length > 0 && (
        <>
          <DataTable caption="Rows SharePoint refused, retried by key on later runs" columns={['Key', 'Reason', 'Attempts', 'State', 'Action']}>
            {items.map((f) => (
              <tr key={f.identityHash}>
                <th scope="row">{JSON.stringify(f.key)}</th>
                <td>{f.lastError}</td>
                <td>{f.attempts}</td>
                <td>{f.quarantined ? 'quarantined' : 'retried on the next run'}</td>
                <td>
                  <ChangeButton kind="secondary" busy={retry.busy} onClick={() => void retry.run([f.identityHash])}>
                    Retry {JSON.stringify(f.key)}
                  </ChangeButton>
                </td>
              </tr>
            ))}
          </DataTable>
          <ChangeButton busy={retry.busy} onClick={() => void retry.run()}>
            Retry all failures
          </ChangeButton>
        </>
      )}
      <ErrorMessage error={retry.error} />
    </Section>
  );
}

function MovesSection({ id }: { id: string }) {
  const { api } = useConsole();
  const moves = useLoad(() => api.call('movesList', 'GET', `definitions/${encodeURIComponent(id)}/moves?limit=50`), [id]);
  if (moves.error) return <ErrorMessage error={moves.error} />;
  if (!moves.data) return <Loading what="moves" />;
  return (
    <Section title="Moves">
      {moves.data.items.length === 0 ? (
        <p>No item has moved between lists.</p>
      ) : (
        <DataTable caption="Items moved between shard lists" columns={['When', 'From list / item', 'To list / item', 'Run']}>
          {moves.data.items.map((m) => (
            <tr key={m.moveId}>
              <td>{m.at}</td>
              <td>
                {m.from.listId} / {m.from.itemId}
              </td>
              <td>
                {m.to.listId} / {m.to.itemId}
              </td>
              <td>{m.runId ?? ''}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </Section>
  );
}

export function DefinitionPage({ id }: { id: string }) {
  const { api, canChange } = useConsole();
  const [watching, setWatching] = useState<string>();
  const view = useLoad(() => api.call('definitionsGet', 'GET', `definitions/${encodeURIComponent(id)}`), [id, watching]);
  if (view.error) return <ErrorMessage error={view.error} />;
  if (!view.data) return <Loading what={`definition ${id}`} />;
  const d = view.data.definition;
  return (
    <>
      <p>
        {d.table.schema}.{d.table.name} → {Object.keys(view.data.lists).join(', ') || 'no lists provisioned yet'} · active source {view.data.activeSourceId}
        {canChange && (
          <>
            {' · '}
            <a href={`#/wizard/${encodeURIComponent(id)}`}>Edit in the wizard</a>
          </>
        )}
      </p>
      <RunsSection id={id} watching={watching} setWatching={setWatching} />
      <FailuresSection id={id} />
      <MovesSection id={id} />
      <DriftSection id={id} />
      <FailoverSection id={id} onFailover={(runId) => runId && setWatching(runId)} />
    </>
  );
}
