import { useState } from 'preact/hooks';
import type { Ok } from '../api';
import { ChangeButton, ErrorMessage, Loading, Section, useAction, useConsole, useLoad, DataTable } from '../ui';

/** A definition's sources with their health, its failover events, and manual failover. */

type SourceWithHealth = Ok<'definitionSources'>['items'][number];

export function healthText(source: SourceWithHealth): string {
  const h = source.health;
  if (!h) return 'not probed yet';
  if (h.consecutiveFailures > 0) return `failing: ${h.consecutiveFailures} probes in a row (${h.lastError ?? 'no answer'})`;
  return `healthy${h.serverRole ? `, ${h.serverRole}` : ''}${h.lagSeconds !== null ? `, ${h.lagSeconds} s behind` : ''}`;
}

const POLICIES = {
  carry: 'Carry the cursor: timestamp and integer cursors go on where they were (the next run re-reads the look-back window); a rowversion cursor carries only between sources declared the same database, else the run rescans.',
  rescan: 'Rescan: a full pass that compares every row by hash; unchanged rows cost no SharePoint writes, but every row is read.',
} as const;

export function FailoverSection({ id, onFailover }: { id: string; onFailover(runId?: string): void }) {
  const { api, canChange } = useConsole();
  const path = `definitions/${encodeURIComponent(id)}`;
  const sources = useLoad(() => api.call('definitionSources', 'GET', `${path}/sources`), [id]);
  const events = useLoad(() => api.call('definitionFailovers', 'GET', `${path}/failovers?limit=20`), [id]);
  const secondaries = sources.data?.items.filter((s) => s.role === 'secondary') ?? [];
  const [to, setTo] = useState('');
  const [policy, setPolicy] = useState<keyof typeof POLICIES>('carry');
  const target = to || secondaries[0]?.connectionId || '';
  const failover = useAction(async () => {
    const event = await api.call('definitionFailover', 'POST', `${path}/failover`, { to: target, cursorPolicy: policy });
    sources.reload();
    events.reload();
    onFailover(event.runId);
    return event;
  }, (e) => `failed over from ${e.from} to ${e.to} (${e.appliedPolicy})`);
  return (
    <Section title="Sources and failover">
      {sources.error ? <ErrorMessage error={sources.error} /> : !sources.data ? <Loading what="sources" /> : null}
      {sources.data && (
        <DataTable caption="Sources, primary first, with what the last probes saw" columns={['Source', 'Role', 'Health', 'Last probe']}>
          {sources.data.items.map((s) => (
            <tr key={s.connectionId}>
              <th scope="row">{s.connectionId}</th>
              <td>{s.role}</td>
              <td class={s.health && s.health.consecutiveFailures > 0 ? 'error' : undefined}>{healthText(s)}</td>
              <td>{s.health?.lastProbeAt ?? '–'}</td>
            </tr>
          ))}
        </DataTable>
      )}
      {canChange && secondaries.length > 0 && (
        <fieldset>
          <legend>Manual failover</legend>
          <div class="field">
            <label for="failover-to">Promote secondary</label>
            <select id="failover-to" value={target} onChange={(e) => setTo(e.currentTarget.value)}>
              {secondaries.map((s) => (
                <option key={s.connectionId} value={s.connectionId}>
                  {s.connectionId}
                </option>
              ))}
            </select>
          </div>
          {(Object.keys(POLICIES) as Array<keyof typeof POLICIES>).map((p) => (
            <div class="check" key={p}>
              <input type="radio" id={`policy-${p}`} name="cursor-policy" checked={policy === p} onChange={() => setPolicy(p)} />
              <label for={`policy-${p}`}>{POLICIES[p]}</label>
            </div>
          ))}
          <ErrorMessage error={failover.error} />
          <ChangeButton kind="danger" busy={failover.busy} onClick={() => void failover.run()}>
            Fail over to {target}
          </ChangeButton>
        </fieldset>
      )}
      {events.error ? <ErrorMessage error={events.error} /> : null}
      {events.data && events.data.items.length > 0 && (
        <DataTable caption="Failover events, newest first" columns={['When', 'From → to', 'Trigger', 'Cursor', 'Reason']}>
          {events.data.items.map((e) => (
            <tr key={e.eventId}>
              <td>{e.at}</td>
              <td>
                {e.from} → {e.to}
              </td>
              <td>
                {e.trigger} by {e.by}
              </td>
              <td>{e.appliedPolicy === e.cursorPolicy ? e.appliedPolicy : `${e.appliedPolicy} (asked ${e.cursorPolicy})`}</td>
              <td>{e.reason}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </Section>
  );
}
