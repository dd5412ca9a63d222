import { IdentitySet } from '../../../src/core/identity-set';
import { mapAndRoute, type MapRules } from '../../../src/sync/plan/map-rows';
import { identityOf, mapped, order, ordersDefinition, ordersMapping } from './fixtures';

/** Mapping and routing a page: what is planned, what is skipped, and what becomes a row failure. */

const rules = (extra: Partial<MapRules> = {}): MapRules => ({ def: ordersDefinition(), mapping: ordersMapping(), quarantined: new Set(), seen: new Set(), ...extra });

describe('mapping and routing a page of rows', () => {
  it('each row is mapped and routed, in page order', () => {
    const { routed, failures } = mapAndRoute([order(1, { region: 'EU' }), order(2, { region: 'US' })], rules());
    expect(failures).toEqual([]);
    expect(routed).toEqual([
      { mapped: mapped(order(1)), route: { kind: 'list', listName: 'Orders Europe' } },
      { mapped: mapped(order(2, { region: 'US' })), route: { kind: 'list', listName: 'Orders Other' } },
    ]);
  });

  it('a quarantined row is skipped: a look-back re-read does not retry it', () => {
    const { routed, failures } = mapAndRoute([order(1), order(2)], rules({ quarantined: new Set([identityOf(1)]) }));
    expect(routed.map((r) => r.mapped.identity)).toEqual([identityOf(2)]);
    expect(failures).toEqual([]);
  });

  it('a row already planned in this run (an earlier page, or the failure retries) is planned once', () => {
    const seen = new Set<string>();
    mapAndRoute([order(1)], rules({ seen }));
    const { routed } = mapAndRoute([order(1), order(2)], rules({ seen }));
    expect(routed.map((r) => r.mapped.identity)).toEqual([identityOf(2)]);
    expect(seen).toEqual(new Set([identityOf(1), identityOf(2)]));
  });

  it('the planner keeps the identities it planned in an IdentitySet: a row read again on a later page is planned once', () => {
    const seen = new IdentitySet();
    mapAndRoute([order(1), order(2)], rules({ seen }));
    const { routed } = mapAndRoute([order(2), order(3), order(1)], rules({ seen }));
    expect(routed.map((r) => r.mapped.identity)).toEqual([identityOf(3)]);
    expect(seen.size).toBe(3);
  });

  it('a value SharePoint cannot hold fails that row with the reason and goes on', () => {
    const { routed, failures } = mapAndRoute([order(1, { customer: 'far too long a name' }), order(2)], rules());
    expect(failures).toEqual([{ identityHash: identityOf(1), key: [1], error: expect.stringMatching(/"customer" has 19 characters; the SharePoint column holds 10/) }]);
    expect(routed.map((r) => r.mapped.identity)).toEqual([identityOf(2)]);
  });

  it('a row the shard policy cannot place fails that row', () => {
    const def = ordersDefinition({ sharding: { strategy: 'date', column: 'placed', period: 'year', listTemplate: 'Orders {yyyy}' } });
    const { routed, failures } = mapAndRoute([order(1, { placed: null }), order(2)], rules({ def, mapping: ordersMapping(def) }));
    expect(failures).toEqual([{ identityHash: identityOf(1), key: [1], error: 'column placed is empty or not a date, and the date sharding has no nullList' }]);
    expect(routed.map((r) => r.route)).toEqual([{ kind: 'list', listName: 'Orders 2026' }]);
  });
});
