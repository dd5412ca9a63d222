/**
 * The subset of OData `$filter` that Graph accepts on list items and lists
 * (learn.microsoft.com/graph/filter-query-parameter): `eq ne lt le gt ge`, `and or not`,
 * parentheses, `startswith(path,'x')`, string / number / boolean / null literals.
 */
import { invalidRequest } from './errors';
import { indexKey, parseIsoDate, type ColumnKind, type FieldValue } from './columns';

export type CompareOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
export type Operand = { k: 'path'; path: string } | { k: 'lit'; v: string | number | boolean | null };
export type FilterNode =
  | { t: 'and' | 'or'; l: FilterNode; r: FilterNode }
  | { t: 'not'; e: FilterNode }
  | { t: 'cmp'; op: CompareOp; l: Operand; r: Operand }
  | { t: 'startswith'; path: string; prefix: string };

type Tok = { k: 'str'; v: string } | { k: 'word'; v: string } | { k: '(' } | { k: ')' } | { k: ',' };

const COMPARE_OPS: readonly string[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

function invalid(detail: string): Error {
  return invalidRequest(`Invalid filter clause: ${detail}`);
}

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src.charAt(i);
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '(' || ch === ')' || ch === ',') {
      out.push({ k: ch });
      i++;
    } else if (ch === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= src.length) throw invalid('a text literal is not closed.');
        const c = src.charAt(i);
        if (c === "'") {
          if (src.charAt(i + 1) === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += c;
        i++;
      }
      out.push({ k: 'str', v });
    } else {
      let j = i;
      while (j < src.length && !/[\s(),']/.test(src.charAt(j))) j++;
      out.push({ k: 'word', v: src.slice(i, j) });
      i = j;
    }
  }
  return out;
}

class Parser {
  private pos = 0;
  constructor(private readonly toks: Tok[]) {}

  parse(): FilterNode {
    const node = this.or();
    if (this.pos < this.toks.length) throw invalid(`unexpected '${this.show(this.toks[this.pos])}'.`);
    return node;
  }

  private show(t: Tok | undefined): string {
    if (!t) return 'end';
    return t.k === 'str' ? `'${t.v}'` : t.k === 'word' ? t.v : t.k;
  }

  private peekWord(): string | undefined {
    const t = this.toks[this.pos];
    return t?.k === 'word' ? t.v.toLowerCase() : undefined;
  }

  private or(): FilterNode {
    let l = this.and();
    while (this.peekWord() === 'or') {
      this.pos++;
      l = { t: 'or', l, r: this.and() };
    }
    return l;
  }

  private and(): FilterNode {
    let l = this.unary();
    while (this.peekWord() === 'and') {
      this.pos++;
      l = { t: 'and', l, r: this.unary() };
    }
    return l;
  }

  private unary(): FilterNode {
    if (this.peekWord() === 'not') {
      this.pos++;
      return { t: 'not', e: this.unary() };
    }
    return this.primary();
  }

  private expect(k: '(' | ')' | ','): void {
    const t = this.toks[this.pos];
    if (t?.k !== k) throw invalid(`expected '${k}' but found '${this.show(t)}'.`);
    this.pos++;
  }

  private primary(): FilterNode {
    const t = this.toks[this.pos];
    if (!t) throw invalid('the expression ends too early.');
    if (t.k === '(') {
      this.pos++;
      const inner = this.or();
      this.expect(')');
      return inner;
    }
    if (t.k === 'word' && t.v.toLowerCase() === 'startswith' && this.toks[this.pos + 1]?.k === '(') {
      this.pos += 2;
      const a = this.operand();
      this.expect(',');
      const b = this.operand();
      this.expect(')');
      if (a.k !== 'path' || b.k !== 'lit' || typeof b.v !== 'string') {
        throw invalid('startswith takes a field and a text literal.');
      }
      let node: FilterNode = { t: 'startswith', path: a.path, prefix: b.v };
      // startswith(...) eq true / eq false
      const op = this.peekWord();
      if (op === 'eq' || op === 'ne') {
        this.pos++;
        const lit = this.operand();
        if (lit.k !== 'lit' || typeof lit.v !== 'boolean') throw invalid('startswith can only be compared with true or false.');
        if ((op === 'eq') !== lit.v) node = { t: 'not', e: node };
      }
      return node;
    }
    const l = this.operand();
    const op = this.peekWord();
    if (!op || !COMPARE_OPS.includes(op)) throw invalid(`expected a comparison after '${this.show(t)}'.`);
    this.pos++;
    const r = this.operand();
    return { t: 'cmp', op: op as CompareOp, l, r };
  }

  private operand(): Operand {
    const t = this.toks[this.pos];
    if (!t) throw invalid('the expression ends too early.');
    this.pos++;
    if (t.k === 'str') return { k: 'lit', v: t.v };
    if (t.k !== 'word') throw invalid(`unexpected '${t.k}'.`);
    const w = t.v;
    const lower = w.toLowerCase();
    if (lower === 'true') return { k: 'lit', v: true };
    if (lower === 'false') return { k: 'lit', v: false };
    if (lower === 'null') return { k: 'lit', v: null };
    if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[dDmMfFlL]?$/.test(w)) return { k: 'lit', v: Number(w.replace(/[dDmMfFlL]$/, '')) };
    if (/^\d{4}-\d{2}-\d{2}/.test(w)) return { k: 'lit', v: w };
    if (/^[A-Za-z_@][A-Za-z0-9_./@]*$/.test(w)) return { k: 'path', path: w };
    throw invalid(`'${w}' is not understood.`);
  }
}

export function parseFilter(src: string): FilterNode {
  if (src.trim() === '') throw invalid('the expression is empty.');
  return new Parser(tokenize(src)).parse();
}

/** Every field path the filter references. */
export function filterPaths(node: FilterNode, out: string[] = []): string[] {
  switch (node.t) {
    case 'and':
    case 'or':
      filterPaths(node.l, out);
      filterPaths(node.r, out);
      break;
    case 'not':
      filterPaths(node.e, out);
      break;
    case 'startswith':
      out.push(node.path);
      break;
    case 'cmp':
      if (node.l.k === 'path') out.push(node.l.path);
      if (node.r.k === 'path') out.push(node.r.path);
      break;
  }
  return out;
}

/** How the filter reads one referenced path of a record. */
export interface Accessor<R> {
  kind: ColumnKind;
  get(record: R): FieldValue | undefined;
}

export type Resolver<R> = (path: string) => Accessor<R>;
export type Predicate<R> = (record: R) => boolean;

/** Turns a literal into the column's value space; throws when it cannot be. */
export function coerceLiteral(kind: ColumnKind, v: string | number | boolean | null, path: string): FieldValue {
  if (v === null) return null;
  switch (kind) {
    case 'number':
    case 'currency':
    case 'counter': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n)) throw invalid(`'${String(v)}' is not a number for '${path}'.`);
      return n;
    }
    case 'boolean':
      if (v === true || v === 1 || v === '1' || v === 'true') return true;
      if (v === false || v === 0 || v === '0' || v === 'false') return false;
      throw invalid(`'${String(v)}' is not a yes/no value for '${path}'.`);
    case 'dateTime': {
      const parsed = typeof v === 'string' ? parseIsoDate(v, false) : undefined;
      if (parsed === undefined) throw invalid(`'${String(v)}' is not an ISO 8601 date for '${path}'.`);
      return parsed;
    }
    default:
      return typeof v === 'string' ? v : String(v);
  }
}

function compareValues(a: FieldValue, b: FieldValue): number {
  if (typeof a === 'string' && typeof b === 'string') {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = Number(a);
  const y = Number(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function applyOp(op: CompareOp, a: FieldValue | undefined, b: FieldValue): boolean {
  const left = a === undefined ? null : a;
  if (left === null || b === null) {
    const same = left === b;
    return op === 'eq' ? same : op === 'ne' ? !same : false;
  }
  const c = compareValues(left, b);
  switch (op) {
    case 'eq':
      return c === 0;
    case 'ne':
      return c !== 0;
    case 'lt':
      return c < 0;
    case 'le':
      return c <= 0;
    case 'gt':
      return c > 0;
    case 'ge':
      return c >= 0;
  }
}

const FLIP: Record<CompareOp, CompareOp> = { eq: 'eq', ne: 'ne', lt: 'gt', le: 'ge', gt: 'lt', ge: 'le' };

/** A normalised comparison: field on the left, literal (in the field's value space) on the right. */
function normaliseCmp<R>(node: Extract<FilterNode, { t: 'cmp' }>, resolve: Resolver<R>) {
  let { op, l, r } = node;
  if (l.k === 'lit' && r.k === 'path') {
    [l, r] = [r, l];
    op = FLIP[op];
  }
  if (l.k !== 'path' || r.k !== 'lit') throw invalid('each comparison needs one field and one literal.');
  const acc = resolve(l.path);
  return { op, path: l.path, acc, value: coerceLiteral(acc.kind, r.v, l.path) };
}

export function compileFilter<R>(node: FilterNode, resolve: Resolver<R>): Predicate<R> {
  switch (node.t) {
    case 'and': {
      const l = compileFilter(node.l, resolve);
      const r = compileFilter(node.r, resolve);
      return (x) => l(x) && r(x);
    }
    case 'or': {
      const l = compileFilter(node.l, resolve);
      const r = compileFilter(node.r, resolve);
      return (x) => l(x) || r(x);
    }
    case 'not': {
      const e = compileFilter(node.e, resolve);
      return (x) => !e(x);
    }
    case 'startswith': {
      const acc = resolve(node.path);
      const prefix = node.prefix.toLowerCase();
      return (x) => {
        const v = acc.get(x);
        return typeof v === 'string' && v.toLowerCase().startsWith(prefix);
      };
    }
    case 'cmp': {
      const { op, acc, value } = normaliseCmp(node, resolve);
      return (x) => applyOp(op, acc.get(x), value);
    }
  }
}

/**
 * Uses column indexes to find the candidate records of a filter, as SharePoint does when the
 * filter has an equality on an indexed column. Returns null when no index narrows the search
 * (then every record has to be scanned).
 */
export function planWithIndexes<R>(
  node: FilterNode,
  resolve: Resolver<R>,
  indexOf: (path: string) => Map<string, Set<number>> | undefined,
): Set<number> | null {
  switch (node.t) {
    case 'cmp': {
      const { op, path, value } = normaliseCmp(node, resolve);
      if (op !== 'eq' || value === null) return null;
      const index = indexOf(path);
      if (!index) return null;
      return index.get(indexKey(value)) ?? new Set<number>();
    }
    case 'and': {
      const l = planWithIndexes(node.l, resolve, indexOf);
      const r = planWithIndexes(node.r, resolve, indexOf);
      if (l && r) return l.size <= r.size ? l : r;
      return l ?? r;
    }
    case 'or': {
      const l = planWithIndexes(node.l, resolve, indexOf);
      const r = planWithIndexes(node.r, resolve, indexOf);
      if (!l || !r) return null;
      const union = new Set(l);
      for (const id of r) union.add(id);
      return union;
    }
    default:
      return null;
  }
}
