import type { Sharding } from './definitions';
import { canonicalDecimal } from './identity';

/**
 * Routes a row to the display name of its shard list (DESIGN §3). Pure and deterministic: the
 * same row and policy always give the same list, which is what makes moves detectable.
 */

type Row = Record<string, unknown>;

function comparable(value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  const text = String(value);
  if (/^[+-]?\d+(\.\d+)?$/.test(text)) return Number(canonicalDecimal(text));
  const date = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(date) ? text : date;
}

function compare(a: unknown, b: unknown): number | null {
  const x = comparable(a);
  const y = comparable(b);
  if (x === null || y === null) return null;
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  return String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
}

export function ruleMatches(row: Row, when: { column: string; op: string; value?: unknown }): boolean {
  const actual = row[when.column];
  switch (when.op) {
    case 'isNull':
      return actual === null || actual === undefined;
    case 'eq':
      return compare(actual, when.value) === 0;
    case 'ne': {
      const c = compare(actual, when.value);
      return c !== null && c !== 0;
    }
    case 'in':
      return Array.isArray(when.value) && when.value.some((v) => compare(actual, v) === 0);
    case 'lt': {
      const c = compare(actual, when.value);
      return c !== null && c < 0;
    }
    case 'lte': {
      const c = compare(actual, when.value);
      return c !== null && c <= 0;
    }
    case 'gt': {
      const c = compare(actual, when.value);
      return c !== null && c > 0;
    }
    case 'gte': {
      const c = compare(actual, when.value);
      return c !== null && c >= 0;
    }
    case 'between': {
      if (!Array.isArray(when.value) || when.value.length !== 2) return false;
      const lo = compare(actual, when.value[0]);
      const hi = compare(actual, when.value[1]);
      return lo !== null && hi !== null && lo >= 0 && hi <= 0;
    }
    case 'startsWith':
      return actual !== null && actual !== undefined && String(actual).startsWith(String(when.value ?? ''));
    default:
      return false;
  }
}

function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  const d = value instanceof Date ? value : new Date(String(value));
  return Number.isNaN(d.getTime()) ? null : d;
}

export function shardList(row: Row, sharding: Sharding, identity: string): string {
  switch (sharding.strategy) {
    case 'none':
      return sharding.list;
    case 'rules':
      return sharding.rules.find((r) => ruleMatches(row, r.when))?.list ?? sharding.default;
    case 'date': {
      const d = toDate(row[sharding.column]);
      if (!d) {
        if (sharding.nullList) return sharding.nullList;
        throw new Error(`column ${sharding.column} is empty or not a date, and the date sharding has no nullList`);
      }
      const yyyy = String(d.getUTCFullYear());
      const mm = String(d.getUTCMonth() + 1).padStart(2, '0');
      const q = String(Math.floor(d.getUTCMonth() / 3) + 1);
      let name = sharding.listTemplate.replace('{yyyy}', yyyy);
      if (sharding.period === 'month') name = name.includes('{mm}') ? name.replace('{mm}', mm) : `${name}-${mm}`;
      if (sharding.period === 'quarter') name = name.includes('{q}') ? name.replace('{q}', q) : `${name} Q${q}`;
      return name;
    }
    case 'hash': {
      // Buckets from the identity hash, so a row never changes bucket while its key is unchanged.
      const bucket = (parseInt(identity.slice(0, 8), 16) % sharding.buckets) + 1;
      return sharding.listTemplate.replace('{n}', String(bucket));
    }
  }
}
