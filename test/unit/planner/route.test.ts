import { routeRow, isSoftDeleted } from '../../../src/sync/plan/route';
import { identityOf, order, ordersDefinition } from './fixtures';

/** Routing a source row: to the list its shard policy names, or out of SharePoint when soft-deleted. */

const softDeleting = (deletes: Record<string, unknown>) => ordersDefinition({ deletes: { mode: 'softDelete', column: 'removed', ...deletes } });

describe('routing a row', () => {
  it('a row goes to the list its shard rules name, else to the default list', () => {
    const def = ordersDefinition();
    expect(routeRow(def, order(1, { region: 'EU' }), identityOf(1))).toEqual({ kind: 'list', listName: 'Orders Europe' });
    expect(routeRow(def, order(2, { region: 'US' }), identityOf(2))).toEqual({ kind: 'list', listName: 'Orders Other' });
  });

  it('a row whose soft-delete column is set is routed out of SharePoint, not to a list', () => {
    const def = softDeleting({});
    expect(routeRow(def, order(1, { removed: true }), identityOf(1))).toEqual({ kind: 'softDeleted' });
    expect(routeRow(def, order(1, { removed: false }), identityOf(1))).toEqual({ kind: 'list', listName: 'Orders Europe' });
  });

  it('without softDelete mode the delete column means nothing', () => {
    expect(routeRow(ordersDefinition(), order(1, { removed: true }), identityOf(1))).toEqual({ kind: 'list', listName: 'Orders Europe' });
  });

  it('a date shard without a nullList cannot place a row with no date', () => {
    const def = ordersDefinition({ sharding: { strategy: 'date', column: 'placed', period: 'year', listTemplate: 'Orders {yyyy}' } });
    expect(routeRow(def, order(1), identityOf(1))).toEqual({ kind: 'list', listName: 'Orders 2026' });
    expect(() => routeRow(def, order(1, { placed: null }), identityOf(1))).toThrow(/placed is empty or not a date/);
  });
});

describe('soft-delete values', () => {
  it('a boolean flag matches true, "true", "TRUE" and 1, and nothing else', () => {
    const def = softDeleting({});
    for (const value of [true, 'true', 'TRUE', 1]) expect(isSoftDeleted(def, order(1, { removed: value }))).toBe(true);
    for (const value of [false, 'false', 0, 2, null, undefined]) expect(isSoftDeleted(def, order(1, { removed: value }))).toBe(false);
  });

  it('a configured value matches by its text', () => {
    const def = softDeleting({ value: 'gone' });
    expect(isSoftDeleted(def, order(1, { removed: 'gone' }))).toBe(true);
    expect(isSoftDeleted(def, order(1, { removed: 'here' }))).toBe(false);
    expect(isSoftDeleted(softDeleting({ value: 9 }), order(1, { removed: '9' }))).toBe(true);
  });

  it('a row whose delete column is empty is not deleted', () => {
    expect(isSoftDeleted(softDeleting({}), order(1, { removed: null }))).toBe(false);
    expect(isSoftDeleted(softDeleting({ value: 'gone' }), order(1, { removed: undefined }))).toBe(false);
  });
});
