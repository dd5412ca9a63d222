import { nextOccurrence, parseNcrontab } from '../../../core/ncrontab';
import type { Definition, Ok, Run } from '../api';
import { driftState } from './drift';
import { healthText } from './failover';
import { RuPerHourSection } from './ru-chart';
import { ErrorMessage, Loading, Section, formatDuration, useConsole, useLoad, DataTable } from '../ui';

/** Every definition with its last run and next slot, and the RU spent per hour per tenant. */

interface Row {
  view: Definition;
  active?: Ok<'definitionSources'>['items'][number];
  drift?: Ok<'driftList'>['items'][number];
  lastRun?: Run;
}

export function nextSlot(schedule: string | null | undefined, after = new Date()): string {
  if (!schedule) return 'on demand only';
  try {
    return nextOccurrence(parseNcrontab(schedule), after).toISOString().replace('.000Z', 'Z');
  } catch (error) {
    return `invalid schedule: ${(error as Error).message}`;
  }
}

export function DashboardPage() {
  const { api } = useConsole();
  const { data, error } = useLoad(async (): Promise<Row[]> => {
    const definitions = await api.call('definitionsList', 'GET', 'definitions');
    return Promise.all(
      definitions.items.map(async (view) => {
        const path = `definitions/${encodeURIComponent(view.definition.id)}`;
        const [runs, sources, drift] = await Promise.all([api.call('runsList', 'GET', `${path}/runs?limit=1`), api.call('definitionSources', 'GET', `${path}/sources`), api.call('driftList', 'GET', `${path}/drift?limit=1`)]);
        const active = sources.items.find((s) => s.role === 'primary');
        return { view, lastRun: runs.items[0], active, drift: drift.items[0] };
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
      <RuPerHourSection />
    </>
  );
}
