import { useState } from 'preact/hooks';
import type { Body, Ok } from '../api';
import { ChangeButton, ErrorMessage, Loading, Section, SelectField, TextField, CheckboxField, useAction, useConsole, useLoad, DataTable } from '../ui';

/** Source (SQL) and SharePoint connections: create, edit, test, browse. Secrets only as references. */

type SourceInput = Body<'sourcesCreate'>;
type SharePointInput = Body<'sharepointCreate'>;

const emptySource = (): SourceInput => ({ id: '', engine: 'postgres', host: '', port: 5432, database: '', user: '', secretRef: '', tls: { enabled: true, rejectUnauthorized: true } });

function SourceForm({ initial, onSaved }: { initial?: SourceInput; onSaved(): void }) {
  const { api } = useConsole();
  const [source, setSource] = useState<SourceInput>(initial ?? emptySource());
  const editing = Boolean(initial);
  const save = useAction(
    () => (editing ? api.call('sourcesReplace', 'PUT', `sources/${encodeURIComponent(source.id)}`, source) : api.call('sourcesCreate', 'POST', 'sources', source)),
    () => `source connection ${source.id} saved`,
  );
  const set = (patch: Partial<SourceInput>) => setSource((current) => ({ ...current, ...patch }));
  return (
    <form class="card" aria-label={editing ? `Edit source ${source.id}` : 'New source connection'} onSubmit={(e) => e.preventDefault()}>
      <h3>{editing ? `Edit source ${source.id}` : 'New source connection'}</h3>
      <TextField label="Connection id" value={source.id} onInput={(id) => set({ id })} required disabled={editing} />
      <SelectField
        label="Engine"
        value={source.engine}
        options={[
          { value: 'postgres', label: 'PostgreSQL' },
          { value: 'sqlserver', label: 'SQL Server' },
        ]}
        onChange={(engine) => set({ engine: engine as SourceInput['engine'], port: engine === 'postgres' ? 5432 : 1433 })}
      />
      <TextField label="Host" value={source.host} onInput={(host) => set({ host })} required />
      <TextField label="Port" type="number" value={String(source.port ?? '')} onInput={(port) => set({ port: port ? Number(port) : undefined })} />
      <TextField label="Database" value={source.database} onInput={(database) => set({ database })} required />
      <TextField label="User" value={source.user} onInput={(user) => set({ user })} required />
      <TextField label="Secret reference" value={source.secretRef ?? ''} onInput={(secretRef) => set({ secretRef })} required hint="the Key Vault secret holding the password (locally: setting SECRET_<REF>); the password itself is never stored here" />
      <CheckboxField label="Encrypt the connection (TLS)" checked={source.tls?.enabled ?? true} onChange={(enabled) => set({ tls: { enabled, rejectUnauthorized: enabled } })} />
      <ErrorMessage error={save.error} />
      <ChangeButton busy={save.busy} onClick={() => void save.run().then((r) => r && onSaved())}>
        Save source
      </ChangeButton>
    </form>
  );
}

function SourceTest({ id }: { id: string }) {
  const { api } = useConsole();
  const [result, setResult] = useState<Ok<'sourcesTest'>>();
  const test = useAction(async () => {
    const r = await api.call('sourcesTest', 'POST', `sources/${encodeURIComponent(id)}/test`);
    setResult(r);
    return r;
  }, (r) => (r.ok ? `source ${id} answered in ${r.latencyMs} ms` : `source ${id} failed: ${r.error}`));
  return (
    <>
      {/* The API counts a test as a change (POST): read-only users cannot run it. */}
      <ChangeButton kind="secondary" busy={test.busy} onClick={() => void test.run()}>
        Test {id}
      </ChangeButton>
      {result && <span class={result.ok ? 'ok' : 'error'}>{result.ok ? `ok, ${result.latencyMs} ms, ${result.serverVersion ?? ''}` : `failed: ${result.error}`}</span>}
      <ErrorMessage error={test.error} />
    </>
  );
}

function SourcesSection() {
  const { api, canChange } = useConsole();
  const sources = useLoad(() => api.call('sourcesList', 'GET', 'sources'), []);
  const [editing, setEditing] = useState<string | null>(null);
  // A fresh form after each save; keyed by saves, never by the list, so the list arriving while
  // the admin types does not remount the form and wipe what was typed.
  const [saves, setSaves] = useState(0);
  return (
    <Section title="SQL sources">
      {sources.error ? <ErrorMessage error={sources.error} /> : !sources.data ? <Loading what="sources" /> : null}
      {sources.data && sources.data.items.length > 0 && (
        <DataTable caption="Source connections" columns={['Id', 'Server', 'Secret reference', 'Actions']}>
          {sources.data.items.map((s) => (
            <tr key={s.id}>
              <th scope="row">{s.id}</th>
              <td>
                {s.engine} {s.host}:{s.port} / {s.database} as {s.user}
              </td>
              <td>
                <code>{s.secretRef}</code>
              </td>
              <td>
                <SourceTest id={s.id} />
                <ChangeButton kind="secondary" onClick={() => setEditing(s.id)}>
                  Edit {s.id}
                </ChangeButton>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {editing && sources.data?.items.find((s) => s.id === editing) ? (
        <SourceForm
          key={editing}
          initial={sources.data.items.find((s) => s.id === editing) as SourceInput}
          onSaved={() => {
            setEditing(null);
            sources.reload();
          }}
        />
      ) : (
        canChange && (
          <SourceForm
            key={saves}
            onSaved={() => {
              setSaves((n) => n + 1);
              sources.reload();
            }}
          />
        )
      )}
    </Section>
  );
}

function SharePointForm({ onSaved }: { onSaved(): void }) {
  const { api } = useConsole();
  const [connection, setConnection] = useState<SharePointInput>({ id: '', tenantId: '', clientId: '', auth: { kind: 'managedIdentity' } });
  const save = useAction(() => api.call('sharepointCreate', 'POST', 'sharepoint', connection), () => `SharePoint connection ${connection.id} saved`);
  const set = (patch: Partial<SharePointInput>) => setConnection((current) => ({ ...current, ...patch }));
  return (
    <form class="card" aria-label="New SharePoint connection" onSubmit={(e) => e.preventDefault()}>
      <h3>New SharePoint connection</h3>
      <TextField label="SharePoint connection id" value={connection.id} onInput={(id) => set({ id })} required />
      <TextField label="Tenant id" value={connection.tenantId} onInput={(tenantId) => set({ tenantId })} required />
      <TextField label="Client id" value={connection.clientId} onInput={(clientId) => set({ clientId })} required hint="the app registration granted Sites.Selected" />
      <SelectField
        label="Authentication"
        value={connection.auth.kind}
        options={[
          { value: 'managedIdentity', label: 'Managed identity' },
          { value: 'clientSecret', label: 'Client secret (Key Vault reference)' },
          { value: 'certificate', label: 'Certificate (Key Vault reference)' },
        ]}
        onChange={(kind) => set({ auth: kind === 'managedIdentity' ? { kind } : { kind: kind as 'clientSecret' | 'certificate', secretRef: '' } })}
      />
      {connection.auth.kind !== 'managedIdentity' && (
        <TextField label="Secret reference" value={connection.auth.secretRef} onInput={(secretRef) => set({ auth: { kind: (connection.auth as { kind: 'clientSecret' }).kind, secretRef } })} required />
      )}
      <ErrorMessage error={save.error} />
      <ChangeButton busy={save.busy} onClick={() => void save.run().then((r) => r && onSaved())}>
        Save SharePoint connection
      </ChangeButton>
    </form>
  );
}

function SiteBrowser({ connectionId }: { connectionId: string }) {
  const { api } = useConsole();
  const [search, setSearch] = useState('');
  const [sites, setSites] = useState<Ok<'sharepointSites'>['items']>();
  const [lists, setLists] = useState<{ site: string; items: Ok<'sharepointSiteLists'>['items'] }>();
  const find = useAction(async () => {
    const found = await api.call('sharepointSites', 'GET', `sharepoint/${encodeURIComponent(connectionId)}/sites?search=${encodeURIComponent(search)}`);
    setSites(found.items);
    return found;
  }, (r) => `${r.items.length} sites found`);
  const browse = useAction(async (siteId: string) => {
    const found = await api.call('sharepointSiteLists', 'GET', `sharepoint/${encodeURIComponent(connectionId)}/sites/${encodeURIComponent(siteId)}/lists`);
    setLists({ site: siteId, items: found.items });
    return found;
  }, (r) => `${r.items.length} lists on the site`);
  return (
    <form class="card" aria-label={`Browse sites of ${connectionId}`} onSubmit={(e) => (e.preventDefault(), void find.run())}>
      <h3>Browse sites of {connectionId}</h3>
      <TextField label={`Search sites of ${connectionId}`} value={search} onInput={setSearch} />
      <button type="submit" class="secondary">
        Search sites
      </button>
      <ErrorMessage error={find.error ?? browse.error} />
      {sites && (
        <ul>
          {sites.map((s) => (
            <li key={s.id}>
              {s.displayName} <code>{s.webUrl}</code>{' '}
              <button type="button" class="link" onClick={() => void browse.run(s.id)}>
                Lists of {s.displayName}
              </button>
              {lists?.site === s.id && (
                <ul>
                  {lists.items.length === 0 && <li>no lists yet</li>}
                  {lists.items.map((l) => (
                    <li key={l.id}>{l.displayName}</li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ul>
      )}
    </form>
  );
}

function SharePointSection() {
  const { api, canChange } = useConsole();
  const connections = useLoad(() => api.call('sharepointList', 'GET', 'sharepoint'), []);
  const [saves, setSaves] = useState(0);
  return (
    <Section title="SharePoint connections">
      {connections.error ? <ErrorMessage error={connections.error} /> : !connections.data ? <Loading what="SharePoint connections" /> : null}
      {connections.data && connections.data.items.length > 0 && (
        <DataTable caption="SharePoint connections" columns={['Id', 'Tenant', 'Authentication']}>
          {connections.data.items.map((c) => (
            <tr key={c.id}>
              <th scope="row">{c.id}</th>
              <td>{c.tenantId}</td>
              <td>{c.auth.kind === 'managedIdentity' ? 'managed identity' : `${c.auth.kind} (${c.auth.secretRef})`}</td>
            </tr>
          ))}
        </DataTable>
      )}
      {connections.data?.items.map((c) => <SiteBrowser key={c.id} connectionId={c.id} />)}
      {canChange && (
        <SharePointForm
          key={saves}
          onSaved={() => {
            setSaves((n) => n + 1);
            connections.reload();
          }}
        />
      )}
    </Section>
  );
}

export function ConnectionsPage() {
  return (
    <>
      <SourcesSection />
      <SharePointSection />
    </>
  );
}
