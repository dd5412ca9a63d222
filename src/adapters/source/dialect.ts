import type { ColumnInfo, TableRef } from '../../core/ports/source';

/**
 * What differs between PostgreSQL and T-SQL when the shared change-read logic builds a query.
 * Every identifier reaching a dialect has already been checked against the introspected table;
 * the dialect quotes it anyway, and every value goes through `Params` as a bound parameter.
 */

export type ParamType = 'text' | 'int';

export interface BoundParam {
  /** `p0`, `p1`…: generated here, never from input. */
  name: string;
  value: string | number | null;
  type: ParamType;
}

export class Params {
  readonly list: BoundParam[] = [];
  constructor(private readonly style: 'dollar' | 'at') {}

  add(value: string | number | null, type: ParamType = 'text'): string {
    const index = this.list.length;
    const name = `p${index}`;
    this.list.push({ name, value, type });
    return this.style === 'dollar' ? `$${index + 1}` : `@${name}`;
  }
}

export interface Dialect {
  readonly engine: 'postgres' | 'sqlserver';
  /** Most parameters one statement may carry (PostgreSQL 65535, SQL Server 2100), with margin. */
  readonly maxParams: number;
  params(): Params;
  quote(identifier: string): string;
  table(ref: TableRef): string;
  /** Select-list expression for a column whose value the caller receives (the driver decodes it). */
  valueExpr(col: ColumnInfo): string;
  /** Expression for the exact text of `expr` (the column, or an aggregate of it): round-trips through `fromText`. */
  exactText(expr: string, col: ColumnInfo): string;
  /** Expression turning a text parameter into a value of the column's type, for comparisons. */
  fromText(placeholder: string, col: ColumnInfo): string;
  /** `value - seconds` for a temporal cursor column (look-back window). */
  minusSeconds(valuePlaceholder: string, secondsPlaceholder: string, col: ColumnInfo): string;
  /**
   * The server's clock minus `seconds`, as a value of the temporal column's type. A column
   * without a zone may hold local or UTC wall time: the earlier of the two is taken, which can
   * only widen the re-read window, never skip a row.
   */
  clockMinusSeconds(secondsPlaceholder: string, col: ColumnInfo): string;
  /** A text parameter as a typed value of the column's type, outside a comparison with the column. */
  typedValue(placeholder: string, col: ColumnInfo): string;
  /** Lexicographic `(cols) > (values)`: the keyset predicate. */
  tupleAfter(cols: string[], values: string[]): string;
  /** `(cols) IN ((v..), (v..))` for composite keys. */
  tupleIn(cols: string[], rows: string[][]): string;
  select(list: string[], from: string, where: string[], orderBy: string[], limitPlaceholder: string | null): string;
  /** Text form of a caller-supplied key value (failure-list retries), or null when it cannot match any row. */
  keyText(value: unknown, col: ColumnInfo): string | null;
  /**
   * One statement returning one row of three texts: the row count and two independent sums of
   * a hash of each row's key text (`keyTexts`: exact-text expressions of the key columns).
   */
  keySetDigest(keyTexts: string[], from: string): string;
}

/** `(a > x) OR (a = x AND b > y) OR …`, for engines without row-value comparison (T-SQL). */
export function expandTupleAfter(cols: string[], values: string[]): string {
  const terms: string[] = [];
  for (let i = 0; i < cols.length; i++) {
    const eq = cols.slice(0, i).map((c, j) => `${c} = ${values[j]}`);
    terms.push(`(${[...eq, `${cols[i]} > ${values[i]}`].join(' AND ')})`);
  }
  return terms.length === 1 ? (terms[0] as string) : `(${terms.join(' OR ')})`;
}

export function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** `YYYY-MM-DDTHH:mm:ss.sss` without zone: a Date's UTC wall-clock time. */
export function isoLocal(d: Date): string {
  return d.toISOString().slice(0, 23);
}
