import { nextOccurrence, parseNcrontab } from '../../../core/ncrontab';
import type { Definition, Ok, Run } from '../api';
import { driftState } from './drift';
import { healthText } from './failover';
import { ErrorMessage, Loading, Section, formatDuration, useConsole, useLoad, DataTable } from '../ui';

/** Every definition with its last run and next slot, and the Graph writes per hour per tenant. */

interface Row {
  view: Definition;
  active?: Ok<'definitionSources'>['items'][number];
  drift?: Ok<'driftList'>['items'][number];
  lastRun?: Run;
  runs: Run[];
  tenant: string;
}

export function nextSlot(schedule: string | null | undefined, after = new Date()): string {
  if (!schedule) return 'on demand only';
  try {
    return nextOccurrence(parseNcrontab(schedule), after).toISOString().replace('.000Z', 'Z');
  } catch (error) {
    return `invalid schedule: ${(error as Error).message}`;
  }
}

const written = (r: Run) => r.counts.created + r.counts.updated + r.counts.moved + r.counts.deleted;

/** Items written per tenant and UTC hour, over the last 24 hours of recorded runs. */
function hourlyWrites(rows: Row[], now = Date.now()): Map<string, number[]> {
  const byTenant = new Map<string, number[]>();
  for (const row of rows) {
    const hours = byTenant.get(row.tenant) ?? new Array<number>(24).fill(0);
    for (const run of row.runs) {
      if (run.mode === 'dryRun') continue;
      const ago = Math.floor((now - new Date(run.startedAt).getTime()) / 3_600_000);
      if (ago >= 0 && ago < 24) hours[23 - ago]! += written(run);
    }
    byTenant.set(row.tenant, hours);
  }
  return byTenant;
}

function WritesChart({ tenant, hours }: { tenant: string; hours: number[] }) {
  const max = Math.max(1, ...hours);
  const total = hours.reduce((a, b) => a + b, 0);
  return (
    <figure>
      <figcaption>
        Tenant <strong>{tenant}</strong>: {total} items written in the last 24 hours (one bar per hour, oldest first)
      </figcaption>
      <div class="chart" role="img" aria-label={`items written per hour for tenant ${tenant}: ${hours.join(', ')}`}>
        {hours.map((n, i) => (
          <span key={i} style={{ height: `${(n / max) * 100}%` }} title={`${n}`} />
        ))}
      </div>
    </figure>
  );
}

export function DashboardPage() {
  const { api } = useConsole();
  const { data, error } = useLoad(async (): Promise<Row[]> => {
    const [definitions, connections] = await Promise.all([api.call('definitionsList', 'GET', 'definitions'), api.call('sharepointList', 'GET', 'sharepoint')]);
    const tenants = new Map((connections as Ok<'sharepointList'>).items.map((c) => [c.id, c.tenantId]));
    return Promise.all(
      definitions.items.map(async (view) => {
        const path = `definitions/${encodeURIComponent(view.definition.id)}`;
        const [runs, sources, drift] = await Promise.all([api.call('runsList', 'GET', `${path}/runs?limit=50`), api.call('definitionSources', 'GET', `${path}/sources`), api.call('driftList', 'GET', `${path}/drift?limit=1`)]);
        const active = sources.items.find((s) => s.role === 'primary');
        return { view, runs: runs.items, lastRun: runs.items[0], active, drift: drift.items[0], tenant: tenants.get(view.definition.target.connectionId) ?? view.definition.target.connectionId };
      }),
    );
  }, []);
  if (error) return <ErrorMessage error={error} />;
  if (!data) return <Loading what="definitions" />;
  return (
    <>
      <Section title="Definitions">
        {data.length === 0 ? (
          <p>
            No definitions yet. <a href="#/wizard">Create one with the wizard</a>.
          </p>
        ) : (
          <DataTable caption="Every definition with its last run" columns={['Definition', 'Last run', 'Counts', 'Duration', 'Next scheduled slot', 'Drift', 'Active source and health']}>
            {data.map(({ view, lastRun, active, drift }) => (
              <tr key={view.definition.id}>
                <th scope="row">
                  <a href={`#/definitions/${encodeURIComponent(view.definition.id)}`}>{view.definition.displayName || view.definition.id}</a>
                  {view.definition.enabled === false && ' (disabled)'}
                </th>
                <td>{lastRun ? <span class={`status-${lastRun.status}`}>{lastRun.status}</span> : 'never run'}</td>
                <td>{lastRun ? `${lastRun.counts.created} created, ${lastRun.counts.updated} updated, ${lastRun.counts.deleted} deleted, ${lastRun.counts.failed} failed` : '–'}</td>
                <td>{lastRun ? formatDuration(lastRun.startedAt, lastRun.finishedAt) : '–'}</td>
                <td>{nextSlot(view.definition.schedule)}</td>
                <td>{driftState(drift)}</td>
                <td>
                  {view.activeSourceId}: {active ? healthText(active) : 'unknown'}
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </Section>
      <Section title="Graph writes per hour">
        <p class="hint">Runs record items written, not resource units: each write costs SharePoint about 2 RU.</p>
        {[...hourlyWrites(data)].map(([tenant, hours]) => (
          <WritesChart key={tenant} tenant={tenant} hours={hours} />
        ))}
      </Section>
    </>
  );
}
