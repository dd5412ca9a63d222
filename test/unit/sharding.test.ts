import { shardList } from '../../src/core/sharding';
import { identityHash } from '../../src/core/identity';

describe('shard routing', () => {
  const id = identityHash([1]);

  it('rules are tried in order and fall back to the default list', () => {
    const policy = {
      strategy: 'rules' as const,
      rules: [
        { when: { column: 'region', op: 'in' as const, value: ['EU', 'UK'] }, list: 'Orders Europe' },
        { when: { column: 'amount', op: 'gte' as const, value: 1000 }, list: 'Big Orders' },
        { when: { column: 'closedAt', op: 'isNull' as const }, list: 'Open Orders' },
      ],
      default: 'Other Orders',
    };
    expect(shardList({ region: 'EU', amount: 5 }, policy, id)).toBe('Orders Europe');
    expect(shardList({ region: 'US', amount: '1000.00', closedAt: '2026-01-01' }, policy, id)).toBe('Big Orders');
    expect(shardList({ region: 'US', amount: 3, closedAt: null }, policy, id)).toBe('Open Orders');
    expect(shardList({ region: 'US', amount: 3, closedAt: '2026-01-01' }, policy, id)).toBe('Other Orders');
  });

  it('between and startsWith compare numbers, dates and text', () => {
    const policy = {
      strategy: 'rules' as const,
      rules: [
        { when: { column: 'd', op: 'between' as const, value: ['2026-01-01', '2026-03-31'] }, list: 'Q1' },
        { when: { column: 'sku', op: 'startsWith' as const, value: 'AB' }, list: 'AB' },
      ],
      default: 'rest',
    };
    expect(shardList({ d: new Date('2026-02-10T00:00:00Z') }, policy, id)).toBe('Q1');
    expect(shardList({ d: new Date('2026-04-10T00:00:00Z'), sku: 'ABC' }, policy, id)).toBe('AB');
  });

  it('date sharding names the list by year, quarter or month in UTC', () => {
    const at = new Date('2025-12-31T23:30:00-02:00'); // 2026-01-01 01:30 UTC
    expect(shardList({ d: at }, { strategy: 'date', column: 'd', period: 'year', listTemplate: 'Orders {yyyy}' }, id)).toBe('Orders 2026');
    expect(shardList({ d: at }, { strategy: 'date', column: 'd', period: 'quarter', listTemplate: 'Orders {yyyy} Q{q}' }, id)).toBe('Orders 2026 Q1');
    expect(shardList({ d: at }, { strategy: 'date', column: 'd', period: 'month', listTemplate: 'Orders {yyyy}-{mm}' }, id)).toBe('Orders 2026-01');
    expect(() => shardList({ d: null }, { strategy: 'date', column: 'd', period: 'year', listTemplate: 'Orders {yyyy}' }, id)).toThrow(/nullList/);
  });

  it('hash buckets are stable per identity and spread rows over every bucket', () => {
    const policy = { strategy: 'hash' as const, buckets: 4, listTemplate: 'Orders {n}' };
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const list = shardList({}, policy, identityHash([i]));
      counts.set(list, (counts.get(list) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['Orders 1', 'Orders 2', 'Orders 3', 'Orders 4']);
    for (const n of counts.values()) expect(n).toBeGreaterThan(350);
    expect(shardList({}, policy, id)).toBe(shardList({ other: 1 }, policy, id));
  });
});
