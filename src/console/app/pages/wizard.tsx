import { useEffect, useRef, useState } from 'preact/hooks';
import type { DefinitionInput, Ok, TableDescription } from '../api';
import { ChangeButton, ErrorMessage, Loading, SelectField, TextField, useAction, useConsole, useLoad } from '../ui';
import { CursorStep, DeletesStep, FieldsStep, KeyStep, ScheduleStep, ShardingStep, keyProblems, type StepProps } from './wizard-steps';

/**
 * The definition wizard: table → fields → key → cursor → deletes → sharding → schedule →
 * review (save, validate, provisioning dry-run as a diff, apply). The draft is the API's own
 * definition body, so what the admin sees is exactly what is sent.
 */

const STEPS = ['Source and table', 'Fields', 'Key', 'Cursor', 'Deletes', 'Sharding', 'Schedule', 'Review and apply'] as const;

function emptyDraft(): DefinitionInput {
  return {
    id: '',
    sources: [{ connectionId: '', role: 'primary', priority: 0 }],
    table: { schema: '', name: '' },
    fields: [],
    cursor: { kind: 'full' },
    deletes: { mode: 'none' },
    target: { connectionId: '', siteId: '', autoProvision: true },
    sharding: { strategy: 'none', list: '' },
    schedule: null,
  };
}

/** A draft for a newly chosen table: every supported column, its default key, a suggested cursor. */
function draftForTable(draft: DefinitionInput, table: TableDescription): DefinitionInput {
  const updatedAt = table.columns.find((c) => /updated|modified/i.test(c.name) && ['timestamp', 'timestamptz', 'datetime2', 'datetime'].includes(c.dataType));
  const rowVersion = table.columns.find((c) => c.isRowVersion);
  const skip = new Set([updatedAt?.name, rowVersion?.name, ...(table.defaultKey ?? [])]);
  return {
    ...draft,
    fields: table.columns.filter((c) => c.proposed.supported && !skip.has(c.name)).map((c) => ({ source: c.name })),
    key: table.defaultKey ?? undefined,
    cursor: rowVersion ? { kind: 'rowversion', column: rowVersion.name } : updatedAt ? { kind: 'timestamp', column: updatedAt.name, lookbackSeconds: 60 } : { kind: 'full' },
    sharding: { strategy: 'none', list: table.table.name },
  };
}

function SourceStep({ draft, update, onTable }: { draft: DefinitionInput; update(p: Partial<DefinitionInput>): void; onTable(t: TableDescription): void }) {
  const { api } = useConsole();
  const connections = useLoad(() => Promise.all([api.call('sourcesList', 'GET', 'sources'), api.call('sharepointList', 'GET', 'sharepoint')]), []);
  const sourceId = draft.sources[0]?.connectionId ?? '';
  const tables = useLoad(async () => (sourceId ? (await api.call('sourcesTables', 'GET', `sources/${encodeURIComponent(sourceId)}/tables`)).items : []), [sourceId]);
  const spId = draft.target.connectionId;
  const sites = useLoad(async (): Promise<Ok<'sharepointSites'>['items']> => (spId ? (await api.call('sharepointSites', 'GET', `sharepoint/${encodeURIComponent(spId)}/sites?search=`)).items : []), [spId]);
  const chooseTable = useAction(async (qualified: string) => {
    const [schema, ...rest] = qualified.split('.');
    update({ table: { schema: schema!, name: rest.join('.') } });
    const described = await api.call('sourcesTable', 'GET', `sources/${encodeURIComponent(sourceId)}/tables/${encodeURIComponent(qualified)}`);
    onTable(described);
    return described;
  }, (t) => `${t.columns.length} columns read from ${t.table.schema}.${t.table.name}`);
  if (connections.error) return <ErrorMessage error={connections.error} />;
  if (!connections.data) return <Loading what="connections" />;
  const [sources, sharepoint] = connections.data;
  const qualified = draft.table.schema ? `${draft.table.schema}.${draft.table.name}` : '';
  return (
    <>
      <TextField label="Definition id" value={draft.id} onInput={(id) => update({ id })} required hint="letters, digits, - and _" />
      <TextField label="Display name" value={draft.displayName ?? ''} onInput={(displayName) => update({ displayName: displayName || undefined })} />
      <SelectField label="Source connection" value={sourceId} options={[{ value: '', label: '(choose)' }, ...sources.items.map((s) => ({ value: s.id, label: `${s.id} (${s.engine} ${s.host})` }))]} onChange={(id) => update({ sources: [{ connectionId: id, role: 'primary', priority: 0 }, ...draft.sources.slice(1).filter((s) => s.connectionId !== id)] })} />
      <SelectField
        label="Secondary source (for failover)"
        value={draft.sources[1]?.connectionId ?? ''}
        options={[{ value: '', label: '(none)' }, ...sources.items.filter((s) => s.id !== sourceId).map((s) => ({ value: s.id, label: `${s.id} (${s.engine} ${s.host})` }))]}
        onChange={(id) => update({ sources: [draft.sources[0]!, ...(id ? [{ connectionId: id, role: 'secondary' as const, priority: 0 }] : [])] })}
        hint="a replica or copy of the same table; promoted by hand on the definition page, or automatically"
      />
      {tables.error ? <ErrorMessage error={tables.error} /> : null}
      {sourceId && tables.data && (
        <SelectField label="Table" value={qualified} options={[{ value: '', label: '(choose)' }, ...tables.data.map((t) => ({ value: `${t.schema}.${t.name}`, label: `${t.schema}.${t.name} (${t.kind})` }))]} onChange={(t) => t && void chooseTable.run(t)} />
      )}
      <ErrorMessage error={chooseTable.error} />
      <SelectField label="SharePoint connection" value={spId} options={[{ value: '', label: '(choose)' }, ...sharepoint.items.map((c) => ({ value: c.id, label: `${c.id} (tenant ${c.tenantId})` }))]} onChange={(id) => update({ target: { ...draft.target, connectionId: id } })} />
      {sites.error ? <ErrorMessage error={sites.error} /> : null}
      {spId && sites.data && (
        <SelectField label="Site" value={draft.target.siteId} options={[{ value: '', label: '(choose)' }, ...sites.data.map((s) => ({ value: s.id, label: `${s.displayName} (${s.webUrl})` }))]} onChange={(siteId) => update({ target: { ...draft.target, siteId } })} />
      )}
    </>
  );
}

function ProvisionDiff({ report }: { report: Ok<'definitionsProvision'> }) {
  return (
    <table>
      <caption>{report.dryRun ? 'Provisioning dry run: what applying would change' : 'Provisioned'}</caption>
      <thead>
        <tr>
          <th scope="col">List</th>
          <th scope="col">Action</th>
          <th scope="col">Columns</th>
        </tr>
      </thead>
      <tbody>
        {report.lists.map((l) => (
          <tr key={l.list}>
            <th scope="row">{l.list}</th>
            <td class={`diff-${l.action}`}>{l.action === 'create' ? '+ create list' : l.action === 'addColumns' ? '+ add columns' : l.action === 'conflict' ? '! conflict' : 'no change'}</td>
            <td>
              {(report.dryRun ? l.columnsToAdd : l.columnsAdded).map((c) => `+ ${c.name} (${c.type})`).join(', ')}
              {l.conflicts.map((c) => (
                <p key={c.reason} class="error">
                  {c.column}: {c.reason}
                </p>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
      {report.onDemand && (
        <tfoot>
          <tr>
            <td colSpan={3}>{report.onDemand}</td>
          </tr>
        </tfoot>
      )}
    </table>
  );
}

function ReviewStep({ draft, saved, onSaved }: { draft: DefinitionInput; saved: boolean; onSaved(): void }) {
  const { api } = useConsole();
  const path = `definitions/${encodeURIComponent(draft.id)}`;
  const [validation, setValidation] = useState<Ok<'definitionsValidate'>>();
  const [provision, setProvision] = useState<Ok<'definitionsProvision'>>();
  const save = useAction(async () => {
    const { id: _id, ...body } = draft;
    const result = saved ? await api.call('definitionsReplace', 'PUT', path, body) : await api.call('definitionsCreate', 'POST', 'definitions', draft);
    onSaved();
    const report = await api.call('definitionsValidate', 'POST', `${path}/validate`);
    setValidation(report);
    setProvision(await api.call('definitionsProvision', 'POST', `${path}/provision?dryRun=true`));
    return result;
  }, () => `definition ${draft.id} saved and validated; provisioning dry run ready`);
  const apply = useAction(async () => {
    const report = await api.call('definitionsProvision', 'POST', `${path}/provision?dryRun=false`);
    setProvision(report);
    return report;
  }, (r) => `provisioned ${r.lists.length} lists`);
  return (
    <>
      <details>
        <summary>The definition as it will be sent</summary>
        <pre>{JSON.stringify(draft, null, 2)}</pre>
      </details>
      <ErrorMessage error={save.error} />
      <ChangeButton busy={save.busy} onClick={() => void save.run()}>
        Save, validate and dry-run provisioning
      </ChangeButton>
      {validation && (
        <div class="card">
          <h3>Validation</h3>
          <p class="ok">Valid: table {validation.table.schema}.{validation.table.name}, site {validation.site.displayName}.</p>
          <p>SharePoint columns: {validation.mapping.fields.map((f) => `${f.source} → ${f.target} (${f.type})`).join(', ')}</p>
          {validation.warnings.map((w) => (
            <p key={w} class="warn">
              {w}
            </p>
          ))}
        </div>
      )}
      {provision && <ProvisionDiff report={provision} />}
      <ErrorMessage error={apply.error} />
      {provision?.dryRun && (
        <ChangeButton busy={apply.busy} onClick={() => void apply.run()}>
          Apply provisioning
        </ChangeButton>
      )}
      {provision && !provision.dryRun && (
        <p>
          <a href={`#/definitions/${encodeURIComponent(draft.id)}`}>Go to {draft.id}: runs and preview</a>
        </p>
      )}
    </>
  );
}

export function WizardPage({ editId }: { editId?: string }) {
  const { api } = useConsole();
  const [draft, setDraft] = useState<DefinitionInput>(emptyDraft);
  const [table, setTable] = useState<TableDescription>();
  const [step, setStep] = useState(0);
  const [saved, setSaved] = useState(Boolean(editId));
  const stepHeading = useRef<HTMLHeadingElement>(null);
  const existing = useLoad(async () => {
    if (!editId) return null;
    const view = await api.call('definitionsGet', 'GET', `definitions/${encodeURIComponent(editId)}`);
    const described = await api.call('sourcesTable', 'GET', `sources/${encodeURIComponent(view.definition.sources[0]!.connectionId)}/tables/${encodeURIComponent(`${view.definition.table.schema}.${view.definition.table.name}`)}`);
    setDraft(view.definition as DefinitionInput);
    setTable(described);
    return view;
  }, [editId]);
  const first = useRef(true);
  useEffect(() => {
    // Each step moves focus to its own heading, so keyboard users continue from the top of it.
    if (first.current) first.current = false;
    else stepHeading.current?.focus();
  }, [step]);
  if (existing.error) return <ErrorMessage error={existing.error} />;
  const update = (patch: Partial<DefinitionInput>) => setDraft((d) => ({ ...d, ...patch }));
  const props: StepProps | null = table ? { draft, table, update } : null;
  const blocker = step === 0 ? (!draft.id ? 'enter a definition id' : !table ? 'choose a table' : !draft.target.siteId ? 'choose a site' : null) : step === 2 && table && keyProblems(draft.key ?? table.defaultKey ?? [], table).some((p) => p.startsWith('choose')) ? 'choose a key' : step === 1 && draft.fields.length === 0 ? 'choose at least one field' : null;
  return (
    <>
      <ol class="steps" aria-label="Wizard steps">
        {STEPS.map((s, i) => (
          <li key={s} aria-current={i === step ? 'step' : undefined}>
            {i + 1}. {s}
          </li>
        ))}
      </ol>
      <form class="card" aria-labelledby="step-title" onSubmit={(e) => e.preventDefault()}>
        <h2 id="step-title" tabIndex={-1} ref={stepHeading}>
          Step {step + 1} of {STEPS.length}: {STEPS[step]}
        </h2>
        {step === 0 && <SourceStep draft={draft} update={update} onTable={(t) => (setTable(t), setDraft((d) => draftForTable(d, t)))} />}
        {props && step === 1 && <FieldsStep {...props} />}
        {props && step === 2 && <KeyStep {...props} />}
        {props && step === 3 && <CursorStep {...props} />}
        {props && step === 4 && <DeletesStep {...props} />}
        {props && step === 5 && <ShardingStep {...props} />}
        {step === 6 && <ScheduleStep draft={draft} update={update} />}
        {step === 7 && <ReviewStep draft={draft} saved={saved} onSaved={() => setSaved(true)} />}
        <div class="row">
          {step > 0 && (
            <button type="button" class="secondary" onClick={() => setStep(step - 1)}>
              Back
            </button>
          )}
          {step < STEPS.length - 1 && (
            <button type="button" class="primary" onClick={() => !blocker && setStep(step + 1)} aria-describedby={blocker ? 'step-blocker' : undefined}>
              Next: {STEPS[step + 1]}
            </button>
          )}
          {blocker && (
            <p id="step-blocker" class="hint">
              To go on: {blocker}
            </p>
          )}
        </div>
      </form>
    </>
  );
}
