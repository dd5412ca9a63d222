import { randomBytes } from 'node:crypto';
import { identityHash } from '../../src/core/identity';
import { shardList } from '../../src/core/sharding';
import type { ResolvedMapping } from '../../src/core/mapping';
import { differencesPage, requestDriftCheck, requestRepair, summaryOf, type Difference, type DriftMode, type DriftSummary, type RepairAction } from '../../src/sync/drift';
import { assertInvariant } from '../support/invariant';
import { startStack, stateStoreSettings, type Stack } from '../support/stack';
import { graphAsPerson } from '../support/tamper';

/**
 * Drift on the local host stack: people tamper with the lists through Graph itself (the
 * emulator over HTTP), a check finds exactly that, kind by kind, and repairs put it right.
 */
describe.each(['table', 'postgres'] as const)('drift check and repair (local host stack, %s state store)', (stateStore) => {
  let stack: Stack;
  const definitionId = 'drift';
  const table = () => `"${stack.schema}".orders`;
  const selectAll = () => `SELECT * FROM ${table()}`;

  const graph = (method: string, path: string, body?: unknown) => graphAsPerson(stack)(method, path, body);
  const lists = async () => Object.values((await stack.state.getDefinition(definitionId))!.lists ?? {}).sort();
  const hashOf = async (id: number) => identityHash([id], ((await stack.state.getDefinition(definitionId))!.mapping as ResolvedMapping).keyHints);
  const itemOf = async (id: number) => {
    const e = (await stack.state.getLedger(definitionId, [await hashOf(id)])).get(await hashOf(id))!;
    return { listId: e.listId, itemId: e.itemId! };
  };
  const check = async (mode: DriftMode) => {
    stack.emulator.state.resetMetrics();
    const queued = await requestDriftCheck(stack.deps, definitionId, mode);
    await stack.waitForQuiet();
    const record = (await stack.state.getDriftReport(definitionId, queued.reportId))!;
    expect(record.status).toBe('done');
    // The check's own account of what it spent is what SharePoint (the emulator's meter) charged for it.
    const charged = stack.emulator.state.metrics();
    const { ruSpent, requests } = summaryOf(record);
    expect([mode, { ruSpent, requests }]).toEqual([mode, { ruSpent: charged.ru.total, requests: charged.httpRequests }]);
    const all: Difference[] = [];
    for (let page = 0; ; page++) {
      const { items, pages } = await differencesPage(stack.state, record, undefined, page);
      all.push(...items);
      if (page + 1 >= pages) break;
    }
    return { record, summary: summaryOf(record), all };
  };
  const repair = async (reportId: string, actions: RepairAction[], crashes = false) => {
    stack.emulator.state.resetMetrics();
    const queued = await requestRepair(stack.deps, definitionId, reportId, actions);
    await stack.waitForQuiet();
    const summary = summaryOf((await stack.state.getDriftReport(definitionId, reportId))!);
    const done = summary.repairs.find((r) => r.repairId === queued.repairId)!;
    // What the repair records as spent is what SharePoint charged for it (a crashed delivery's spend is lost with it).
    if (done.status === 'done' && !crashes) expect({ ru: done.ruSpent, requests: done.requests }).toEqual({ ru: stack.emulator.state.metrics().ru.total, requests: stack.emulator.state.metrics().httpRequests });
    return done;
  };
  const kinds = (s: DriftSummary) => {
    const { itemsScanned: _i, ledgerEntries: _l, ...rest } = s.counts;
    return Object.fromEntries(Object.entries(rest).filter(([, n]) => n > 0));
  };

  /** Every kind of tampering the issue lists that Graph itself can do; returns what each should be found as. */
  const tamper = async (base: number) => {
    const [listA, listB] = await lists();
    const deleted = await itemOf(base + 1);
    await graph('DELETE', `/lists/${deleted.listId}/items/${deleted.itemId}`);
    const edited = await itemOf(base + 2);
    await graph('PATCH', `/lists/${edited.listId}/items/${edited.itemId}/fields`, { amount: 999 });
    const noKey = await graph('POST', `/lists/${listA}/items`, { fields: { Title: 'typed by hand' } });
    const unknownKey = await graph('POST', `/lists/${listA}/items`, { fields: { Title: 'unknown', SyncKey: randomBytes(32).toString('hex') } });
    // A real row's SyncKey in the list it does not belong to (also what a create left pending in one shard leaves behind when the row moves on).
    const row3 = await itemOf(base + 3);
    const copy = await graph('POST', `/lists/${row3.listId === listA ? listB : listA}/items`, { fields: { Title: 'copy', SyncKey: await hashOf(base + 3) } });
    // Someone deleted row 4's item and made it again by hand: the ledger points at the old id.
    const row4 = await itemOf(base + 4);
    await graph('DELETE', `/lists/${row4.listId}/items/${row4.itemId}`);
    const remade = await graph('POST', `/lists/${row4.listId}/items`, { fields: { Title: 'remade', SyncKey: await hashOf(base + 4) } });
    // A selected row the ledger does not know yet, with an item already carrying its key in its own shard list.
    const fresh = 100 + base;
    await stack.pg.query(`INSERT INTO ${table()} (id, customer, amount) VALUES ($1, $2, $3)`, [fresh, `Customer ${fresh}`, fresh]);
    const stored = (await stack.state.getDefinition(definitionId))!;
    const ownList = stored.lists![shardList({ id: fresh }, stored.definition.sharding, await hashOf(fresh))]!;
    const adoptable = await graph('POST', `/lists/${ownList}/items`, { fields: { Title: 'stray', SyncKey: await hashOf(fresh) } });
    return { deleted, edited, noKey: noKey!.id, unknownKey: unknownKey!.id, copy: copy!.id, remade: remade!.id, adoptable: adoptable!.id };
  };

  beforeAll(async () => {
    stack = await startStack({ settings: stateStoreSettings(stateStore, 'e2e_drift') });
    await stack.pg.query(`CREATE TABLE ${table()} (id integer PRIMARY KEY, customer text NOT NULL, amount numeric(10,2) NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${table()} (id, customer, amount) SELECT g, 'Customer ' || g, g * 1.5 FROM generate_series(1, 40) g`);
    await stack.addDefinition({
      id: definitionId,
      table: { schema: stack.schema, name: 'orders' },
      title: 'customer',
      fields: [{ source: 'amount' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 5 },
      sharding: { strategy: 'hash', buckets: 2, listTemplate: 'Drift {n}' },
    });
    expect((await stack.run(definitionId)).counts).toMatchObject({ created: 40, failed: 0 });
  }, 60_000);

  afterAll(() => stack?.stop());

  it('a check of lists in step with the ledger finds nothing and costs one page read per list', async () => {
    const { summary, all } = await check('quick');
    expect(all).toEqual([]);
    expect(summary.counts).toMatchObject({ itemsScanned: 40, ledgerEntries: 40 });
    expect(kinds(summary)).toEqual({});
    expect(summary.ruSpent).toBe(2 * 2);
  });

  it('a check finds exactly what people changed, kind by kind, and each repair action fixes exactly its kind', async () => {
    const t = await tamper(0);
    const quick = await check('quick');
    expect(kinds(quick.summary)).toEqual({ missingInSharePoint: 1, orphanInSharePoint: 4, pointsElsewhere: 1 });
    const byKind = (kind: string) => quick.all.filter((d) => d.kind === kind);
    expect(byKind('missingInSharePoint')).toEqual([expect.objectContaining({ ...t.deleted, identityHash: await hashOf(1), key: [1] })]);
    expect(byKind('pointsElsewhere')).toEqual([expect.objectContaining({ itemId: t.remade, identityHash: await hashOf(4) })]);
    const orphans = Object.fromEntries(byKind('orphanInSharePoint').map((d) => [d.itemId, d.reason + (d.rowSelected ? '+row' : '')]));
    expect(orphans).toEqual({ [t.noKey]: 'noSyncKey', [t.unknownKey]: 'unknownSyncKey', [t.copy]: 'copyInOtherList', [t.adoptable]: 'unknownSyncKey+row' });

    const deep = await check('deep');
    expect(kinds(deep.summary)).toEqual({ missingInSharePoint: 1, orphanInSharePoint: 4, pointsElsewhere: 1, contentMismatch: 1 });
    expect(deep.all.find((d) => d.kind === 'contentMismatch')).toMatchObject({ ...t.edited, fields: [{ field: 'amount', source: 3, sharePoint: 999 }] });

    // One action at a time: each takes away its kind and nothing else.
    const expectations: Array<[RepairAction, Record<string, number>]> = [
      ['recreateMissing', { orphanInSharePoint: 4, pointsElsewhere: 1, contentMismatch: 1 }],
      ['adoptOrphans', { orphanInSharePoint: 3, pointsElsewhere: 1, contentMismatch: 1 }],
      ['deleteOrphans', { pointsElsewhere: 1, contentMismatch: 1 }],
      ['fixPointers', { contentMismatch: 1 }],
      ['rewriteMismatches', {}],
    ];
    let report = deep;
    for (const [action, left] of expectations) {
      const done = await repair(report.record.reportId, [action]);
      expect(done).toMatchObject({ status: 'done' });
      expect(Object.values(done.repaired)[0]).toBeGreaterThan(0);
      report = await check('deep');
      expect([action, kinds(report.summary)]).toEqual([action, left]);
    }
    await assertInvariant(stack, definitionId, selectAll());
  }, 180_000);

  it('a list whose SyncKey column lost its unique index gets a duplicate: the check finds it and removeDuplicates keeps the item the ledger names', async () => {
    const row = await itemOf(38);
    const columns = (await graph('GET', `/lists/${row.listId}/columns`)) as unknown as { value: Array<{ id: string; name: string }> };
    const syncKeyColumn = columns.value.find((c) => c.name === 'SyncKey')!.id;
    await graph('PATCH', `/lists/${row.listId}/columns/${syncKeyColumn}`, { enforceUniqueValues: false, indexed: false });
    const duplicate = await graph('POST', `/lists/${row.listId}/items`, { fields: { Title: 'second copy', SyncKey: await hashOf(38) } });

    const found = await check('quick');
    expect(kinds(found.summary)).toEqual({ duplicateInSharePoint: 1 });
    expect(found.all).toEqual([expect.objectContaining({ kind: 'duplicateInSharePoint', listId: row.listId, itemId: duplicate!.id, identityHash: await hashOf(38) })]);

    expect(await repair(found.record.reportId, ['removeDuplicates'])).toMatchObject({ status: 'done', repaired: { removeDuplicates: 1 } });
    expect(kinds((await check('quick')).summary)).toEqual({});
    expect(await itemOf(38)).toEqual(row);
    const key = await hashOf(38);
    const left = stack.emulator.state.items(row.listId).filter((i) => i.fields.SyncKey === key);
    expect(left.map((i) => i.id)).toEqual([row.itemId]);
    // With the duplicate gone SharePoint accepts the unique index again.
    await graph('PATCH', `/lists/${row.listId}/columns/${syncKeyColumn}`, { indexed: true, enforceUniqueValues: true });
    await assertInvariant(stack, definitionId, selectAll());
  }, 60_000);

  it('a crash at each step of a repair still ends with the invariant holding after a second repair', async () => {
    for (const [n, point] of (['repair:after-pending', 'repair:after-graph', 'repair:after-ledger'] as const).entries()) {
      await tamper(10 * (n + 1));
      const found = await check('deep');
      expect(kinds(found.summary)).toEqual({ missingInSharePoint: 1, orphanInSharePoint: 4, pointsElsewhere: 1, contentMismatch: 1 });
      let crashed = false;
      stack.rewire({
        faultPoint: (p) => {
          if (p === point && !crashed) {
            crashed = true;
            throw new Error(`crash at ${p}`);
          }
        },
      });
      await repair(found.record.reportId, ['recreateMissing', 'adoptOrphans', 'deleteOrphans', 'fixPointers', 'rewriteMismatches'], true);
      stack.rewire({ faultPoint: undefined });
      expect([point, crashed]).toEqual([point, true]);
      const again = await check('deep');
      if (again.all.length) await repair(again.record.reportId, ['recreateMissing', 'adoptOrphans', 'deleteOrphans', 'removeDuplicates', 'fixPointers', 'rewriteMismatches']);
      expect([point, kinds((await check('deep')).summary)]).toEqual([point, {}]);
      await assertInvariant(stack, definitionId, selectAll());
    }
  }, 240_000);
});
