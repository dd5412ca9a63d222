import type { Ok } from '../api';
import { DataTable, ErrorMessage, Loading, Section, useConsole, useLoad } from '../ui';

/**
 * RU spent per UTC hour per tenant, from what runs record (`GET /stats/ru-per-hour`): a bar
 * chart for the eye, and the same figures as a table for screen readers and keyboard users.
 */

type Tenant = Ok<'statsRuPerHour'>['tenants'][number];
const HOURS = 24;
const hourLabel = (iso: string) => `${iso.slice(11, 16)} UTC`;

function TenantChart({ tenant, hours }: { tenant: Tenant; hours: string[] }) {
  const max = Math.max(1, ...tenant.ru);
  const busy = hours.map((h, i) => ({ hour: h, ru: tenant.ru[i] ?? 0 })).filter((h) => h.ru > 0);
  return (
    <figure data-testid={`ru-chart-${tenant.tenantId}`}>
      <figcaption>
        Tenant <strong>{tenant.tenantId}</strong>: {tenant.total} RU in the last {hours.length} hours, over {tenant.runs} runs (one bar per hour, oldest first)
      </figcaption>
      <div class="chart" role="img" aria-label={`RU per hour for tenant ${tenant.tenantId}, oldest first: ${tenant.ru.join(', ')}`}>
        {tenant.ru.map((n, i) => (
          <span key={i} style={{ height: `${(n / max) * 100}%` }} title={`${hourLabel(hours[i] ?? '')}: ${n} RU`} />
        ))}
      </div>
      <details>
        <summary>RU per hour for {tenant.tenantId} as a table</summary>
        <DataTable caption={`RU per hour for tenant ${tenant.tenantId} (hours with spend)`} columns={['Hour starting', 'RU']}>
          {busy.length === 0 ? (
            <tr>
              <td colSpan={2}>No RU spent in these hours.</td>
            </tr>
          ) : (
            busy.map((h) => (
              <tr key={h.hour}>
                <th scope="row">{h.hour.replace(':00.000Z', 'Z')}</th>
                <td>{h.ru}</td>
              </tr>
            ))
          )}
        </DataTable>
      </details>
    </figure>
  );
}

export function RuPerHourSection({ reloadKey }: { reloadKey?: unknown }) {
  const { api } = useConsole();
  const stats = useLoad(() => api.call('statsRuPerHour', 'GET', `stats/ru-per-hour?hours=${HOURS}`), [reloadKey]);
  return (
    <Section title="SharePoint RU per hour">
      <p class="hint">What runs recorded spending: every Graph request a run sends counts the resource units SharePoint charges for it (throttled attempts too), in the hour the run started.</p>
      {stats.error ? <ErrorMessage error={stats.error} /> : !stats.data ? <Loading what="RU per hour" /> : null}
      {stats.data && stats.data.tenants.length === 0 && <p>No tenant to show: RU appear here once a definition exists.</p>}
      {stats.data?.tenants.map((t) => <TenantChart key={t.tenantId} tenant={t} hours={stats.data!.hours} />)}
    </Section>
  );
}
