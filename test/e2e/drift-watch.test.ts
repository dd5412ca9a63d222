import { identityHash } from '../../src/core/identity';
import type { ResolvedMapping } from '../../src/core/mapping';
import { differencesPage, summaryOf, type Difference } from '../../src/sync/drift';
import type { ListTarget } from '../../src/core/ports/list-target';
import { DriftCheck } from '../../src/sync/drift/check';
import { DifferenceWriter } from '../../src/sync/drift/differences';
import { requestDriftWatch } from '../../src/sync/drift/watch';
import { runScheduler } from '../../src/sync/scheduler';
import { startStack, stateStoreSettings, type Stack } from '../support/stack';
import { graphAsPerson } from '../support/tamper';

/**
 * The drift watch on the local host stack: after each run, each list's delta feed since the last
 * watch; people's edits and deletes are reported, our own writes are not; an expired token (410)
 * falls back to a quick check.
 */
describe('drift watch (local host stack)', () => {
  let stack: Stack;
  const definitionId = 'watched';
  const table = () => `"${stack.schema}".orders`;

  const graph = (method: string, path: string, body?: unknown) => graphAsPerson(stack)(method, path, body);
  const itemOf = async (id: number) => {
    const hash = identityHash([id], ((await stack.state.getDefinition(definitionId))!.mapping as ResolvedMapping).keyHints);
    const e = (await stack.state.getLedger(definitionId, [hash])).get(hash)!;
    return { listId: e.listId, itemId: e.itemId!, identityHash: hash };
  };
  const reports = async () => (await stack.state.listDriftReports(definitionId)).items;
  const differences = async (reportId: string): Promise<Difference[]> => {
    const record = (await stack.state.getDriftReport(definitionId, reportId))!;
    const all: Difference[] = [];
    for (let page = 0, pages = 1; page < pages; page++) {
      const found = await differencesPage(stack.state, record, undefined, page);
      all.push(...found.items);
      pages = found.pages;
    }
    return all;
  };

  /** Sends the watch a run sends when it finishes, on its own, so the emulator's meter sees the watch alone. */
  let watches = 0;
  const watchNow = async () => {
    stack.emulator.state.resetMetrics();
    await requestDriftWatch(stack.deps, definitionId, `test-${++watches}`);
    await stack.waitForQuiet();
    return stack.emulator.state.metrics();
  };

  beforeAll(async () => {
    stack = await startStack({ settings: stateStoreSettings('postgres', 'e2e_watch') });
    await stack.pg.query(`CREATE TABLE ${table()} (id integer PRIMARY KEY, customer text NOT NULL, amount numeric(10,2) NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${table()} (id, customer, amount) SELECT g, 'Customer ' || g, g FROM generate_series(1, 20) g`);
    await stack.addDefinition({
      id: definitionId,
      table: { schema: stack.schema, name: 'orders' },
      title: 'customer',
      fields: [{ source: 'amount' }],
      cursor: { kind: 'timestamp', column: 'updated_at' },
      sharding: { strategy: 'hash', buckets: 2, listTemplate: 'Watched {n}' },
      drift: { watch: true },
    });
    expect((await stack.run(definitionId)).counts).toMatchObject({ created: 20, failed: 0 });
  }, 60_000);

  afterAll(() => stack?.stop());

  it('the first watch has no token yet: it takes one per list and, finding the lists in step, stores no report', async () => {
    expect(Object.keys(await stack.state.getWatchTokens(definitionId))).toHaveLength(2);
    expect(await reports()).toEqual([]);
  });

  it('a watch finds a field a person changed and an item a person deleted, and none of our own writes', async () => {
    const edited = await itemOf(2);
    await graph('PATCH', `/lists/${edited.listId}/items/${edited.itemId}/fields`, { amount: 999 });
    const deleted = await itemOf(3);
    await graph('DELETE', `/lists/${deleted.listId}/items/${deleted.itemId}`);
    // Our own writes in the same feed: an update of row 4 and a new row 21.
    await stack.pg.query(`UPDATE ${table()} SET amount = 444, updated_at = clock_timestamp() WHERE id = 4`);
    await stack.pg.query(`INSERT INTO ${table()} (id, customer, amount) VALUES (21, 'Customer 21', 21)`);
    expect((await stack.run(definitionId)).counts).toMatchObject({ created: 1, updated: 1, failed: 0 });

    const [watch, ...older] = await reports();
    expect(older).toEqual([]);
    const summary = summaryOf(watch!);
    expect(summary).toMatchObject({ mode: 'watch', watchFellBack: false, counts: { contentMismatch: 1, missingInSharePoint: 1, orphanInSharePoint: 0, pointsElsewhere: 0, duplicateInSharePoint: 0 } });
    const found = await differences(watch!.reportId);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'contentMismatch', listId: edited.listId, itemId: edited.itemId, fields: [{ field: 'amount', source: 2, sharePoint: 999 }] }),
        expect.objectContaining({ kind: 'missingInSharePoint', listId: deleted.listId, itemId: deleted.itemId, identityHash: deleted.identityHash }),
      ]),
    );
    expect(found).toHaveLength(2);
    // Proportional to the changes: one delta request (1 RU) per list.
    expect(summary.ruSpent).toBe(2);
  }, 60_000);

  it('a run with nothing new and nobody editing leaves no watch report', async () => {
    const before = (await reports()).length;
    await stack.run(definitionId);
    expect(await reports()).toHaveLength(before);
  }, 60_000);

  it('the ruSpent a watch reports is what SharePoint charged for it: one delta request (1 RU) per list', async () => {
    const edited = await itemOf(6);
    await graph('PATCH', `/lists/${edited.listId}/items/${edited.itemId}/fields`, { amount: 606 });
    const charged = await watchNow();
    const [latest] = await reports();
    const summary = summaryOf(latest!);
    expect(summary).toMatchObject({ mode: 'watch', watchFellBack: false, counts: { contentMismatch: 1 } });
    expect(summary.ruSpent).toBe(charged.ru.total);
    expect(summary.requests).toBe(charged.httpRequests);
    expect(summary.ruSpent).toBe(2);
  }, 60_000);

  it('an expired delta token (410) falls back to a quick check of every list and a new token', async () => {
    const before = await stack.state.getWatchTokens(definitionId);
    const gone = await itemOf(5);
    await graph('DELETE', `/lists/${gone.listId}/items/${gone.itemId}`);
    stack.emulator.state.expireDeltaTokens();
    const charged = await watchNow();
    const [latest] = await reports();
    const summary = summaryOf(latest!);
    expect(summary).toMatchObject({ mode: 'quick', watchFellBack: true, counts: { itemsScanned: 19, missingInSharePoint: 2 } });
    expect((await differences(latest!.reportId)).map((d) => d.itemId)).toEqual(expect.arrayContaining([gone.itemId]));
    // Per list: the refused delta, then the fallback's pages + 1 (token=latest, no items read).
    expect(summary.requests).toBe(2 * (1 + 1 + 1));
    expect(summary.ruSpent).toBe(2 * (1 + 1 + 2));
    expect(summary.ruSpent).toBe(charged.ru.total);
    expect(summary.requests).toBe(charged.httpRequests);
    expect(charged.ru.byKind).toMatchObject({ read1: 4, readMany: 4 });
    const after = await stack.state.getWatchTokens(definitionId);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    expect(after).not.toEqual(before);
  }, 60_000);

  it('a 410 on one list quick-checks that list alone, and its new token finds a later change in the next watch', async () => {
    const gone = await itemOf(8);
    const other = (await stack.state.getDefinition(definitionId))!.lists!;
    const [expiredList, watchedList] = [gone.listId, Object.values(other).find((l) => l !== gone.listId)!];
    await graph('DELETE', `/lists/${gone.listId}/items/${gone.itemId}`);
    // A person's edit in the list whose token still holds: the watch must still see it.
    const inWatched = await (async () => {
      for (let id = 9; id <= 20; id++) {
        const it = await itemOf(id);
        if (it.listId === watchedList) return it;
      }
      throw new Error('no row in the other list');
    })();
    await graph('PATCH', `/lists/${inWatched.listId}/items/${inWatched.itemId}/fields`, { amount: 909 });
    stack.emulator.state.expireDeltaTokens(expiredList);
    const charged = await watchNow();
    const [fallback] = await reports();
    const summary = summaryOf(fallback!);
    expect(summary).toMatchObject({ mode: 'watch', watchFellBack: true, fellBackLists: [expiredList], counts: { contentMismatch: 1 } });
    const found = await differences(fallback!.reportId);
    // Missing items are looked for in the list that was enumerated only (the other one's deletes come from its feed).
    const missing = found.filter((d) => d.kind === 'missingInSharePoint');
    expect(missing.map((d) => d.itemId)).toContain(gone.itemId);
    expect(missing.every((d) => d.listId === expiredList)).toBe(true);
    expect(found).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'missingInSharePoint', itemId: gone.itemId }), expect.objectContaining({ kind: 'contentMismatch', itemId: inWatched.itemId })]));
    // The watched list: one delta. The expired one: the refused delta, token=latest and one page.
    expect(summary.requests).toBe(1 + (1 + 1 + 1));
    expect(summary.ruSpent).toBe(charged.ru.total);
    expect(summary.requests).toBe(charged.httpRequests);

    // Found by the next watch from the stored token: a person's edit in the list that fell back.
    const later = await (async () => {
      for (let id = 9; id <= 20; id++) {
        const it = await itemOf(id);
        if (it.listId === expiredList) return it;
      }
      throw new Error('no row in the expired list');
    })();
    await graph('PATCH', `/lists/${later.listId}/items/${later.itemId}/fields`, { amount: 123 });
    const next = await watchNow();
    const [watch] = await reports();
    expect(watch!.reportId).not.toBe(fallback!.reportId);
    const watched = summaryOf(watch!);
    expect(watched).toMatchObject({ mode: 'watch', watchFellBack: false, counts: { contentMismatch: 1, missingInSharePoint: 0 } });
    expect(await differences(watch!.reportId)).toEqual([expect.objectContaining({ kind: 'contentMismatch', itemId: later.itemId, fields: [expect.objectContaining({ field: 'amount', sharePoint: 123 })] })]);
    expect(watched.ruSpent).toBe(2);
    expect(watched.ruSpent).toBe(next.ru.total);
  }, 60_000);

  it('a fallback takes its new token before reading the pages, so an edit made while they are read is in the next watch', async () => {
    const stored = (await stack.state.getDefinition(definitionId))!;
    const mapping = stored.mapping as ResolvedMapping;
    const real = await stack.deps.target(stored.definition.target.connectionId);
    const edited = await itemOf(11);
    let editedDuringPages = false;
    // The real adapter, with a person editing row 11 just as the fallback starts paging its list.
    const target: ListTarget = Object.assign(Object.create(real) as ListTarget, {
      async *pageItems(...args: Parameters<ListTarget['pageItems']>) {
        if (!editedDuringPages && args[1] === edited.listId) {
          editedDuringPages = true;
          await graph('PATCH', `/lists/${edited.listId}/items/${edited.itemId}/fields`, { amount: 1111 });
        }
        yield* real.pageItems(...args);
      },
    });
    const check = (id: string) => new DriftCheck(stack.deps, stored, mapping, target, 'deep', new DifferenceWriter(stack.state, definitionId, id));
    const fallback = await check('race-1').watch({});
    expect(editedDuringPages).toBe(true);
    expect(fallback.fellBackLists.sort()).toEqual(Object.values(stored.lists!).sort());
    const next = await check('race-2').watch(fallback.tokens);
    expect(next.fellBackLists).toEqual([]);
    expect(next.counts).toMatchObject({ contentMismatch: 1, itemsScanned: 1 });
  }, 60_000);

  it('a drift schedule enqueues one check per slot, and its autoRepair repairs what the check found', async () => {
    await stack.addDefinition({
      id: 'scheduled',
      table: { schema: stack.schema, name: 'orders' },
      title: 'customer',
      fields: [{ source: 'amount' }],
      cursor: { kind: 'timestamp', column: 'updated_at' },
      sharding: { strategy: 'none', list: 'Scheduled' },
      drift: { schedule: '0 */5 * * * *', mode: 'quick', autoRepair: ['recreateMissing'] },
    });
    await stack.run('scheduled');
    const hash = identityHash([7], ((await stack.state.getDefinition('scheduled'))!.mapping as ResolvedMapping).keyHints);
    const row7 = (await stack.state.getLedger('scheduled', [hash])).get(hash)!;
    await graph('DELETE', `/lists/${row7.listId}/items/${row7.itemId}`);

    const slot = Math.floor(Date.now() / 300_000) * 300_000;
    const at = (ms: number) => ({ ...stack.deps, now: () => new Date(ms) });
    // A new schedule starts at the next slot; then each slot gives one check, however often the timer fires.
    expect((await runScheduler(at(slot - 300_000 + 120_000))).driftChecks).toEqual([]);
    expect((await runScheduler(at(slot + 10_000))).driftChecks).toEqual(['scheduled']);
    expect((await runScheduler(at(slot + 20_000))).driftChecks).toEqual([]);
    await stack.waitForQuiet();

    const [report, ...others] = (await stack.state.listDriftReports('scheduled')).items;
    expect(others).toEqual([]);
    const summary = summaryOf(report!);
    expect(summary).toMatchObject({ mode: 'quick', counts: { missingInSharePoint: 1 } });
    expect(summary.repairs).toEqual([expect.objectContaining({ actions: ['recreateMissing'], status: 'done', repaired: { recreateMissing: 1 } })]);
    const now = (await stack.state.getLedger('scheduled', [hash])).get(hash)!;
    expect(now.itemId).not.toBe(row7.itemId);
    expect(stack.emulator.state.items(now.listId).some((i) => i.id === now.itemId)).toBe(true);
  }, 60_000);

  it('a drift schedule that is not NCRONTAB is refused when the definition is parsed', async () => {
    await expect(stack.addDefinition({ id: 'bad-schedule', table: { schema: stack.schema, name: 'orders' }, fields: [{ source: 'amount' }], cursor: { kind: 'full' }, sharding: { strategy: 'none', list: 'X' }, drift: { schedule: 'every day' } })).rejects.toThrow(/NCRONTAB/);
  });
});
