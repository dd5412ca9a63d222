import * as crypto from 'node:crypto';

/**
 * Identity and content hashing (DESIGN §4). Key values are normalised so that the same row
 * always yields the same identity whatever driver or type round-trip produced the values.
 */

export type KeyHint = 'decimal' | 'uuid' | 'text' | 'other';

/**
 * SHA-256 in hex. `crypto.hash` (Node ≥ 20.12) hashes in one call without a Hash object; this
 * runs two or three times for every row planned. Older Node falls back to createHash (same digest).
 */
// Looked up, not imported by name: the console's build maps node:crypto to a createHash-only shim.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
const sha256: (text: string) => string =
  typeof oneShot === 'function' ? (text) => oneShot('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

/** Canonical decimal text: no exponent, no trailing fractional zeros, no "-0". */
export function canonicalDecimal(text: string): string {
  let t = text.trim();
  if (/e/i.test(t)) {
    const n = Number(t);
    if (!Number.isFinite(n)) throw new Error(`'${text}' is not a finite number`);
    t = n.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 });
  }
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m) throw new Error(`'${text}' is not a decimal number`);
  const sign = m[1] === '-' ? '-' : '';
  const whole = (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
  const fraction = (m[3] ?? '').replace(/0+$/, '');
  const body = fraction ? `${whole}.${fraction}` : whole;
  return body === '0' ? '0' : sign + body;
}

export function normaliseKeyValue(value: unknown, hint: KeyHint = 'other'): string | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value.toString(10);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`key value ${value} is not finite`);
    return Number.isInteger(value) ? value.toFixed(0) : canonicalDecimal(String(value));
  }
  if (typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `0x${value.toString('hex')}`;
  if (typeof value === 'string') {
    if (hint === 'decimal') return canonicalDecimal(value);
    if (hint === 'uuid') return value.toLowerCase();
    return value.normalize('NFC');
  }
  return JSON.stringify(value);
}

/** SHA-256 of the JSON array of normalised key values: the row's identity, and its SyncKey. */
export function identityHash(keyValues: unknown[], hints: KeyHint[] = []): string {
  return sha256(JSON.stringify(keyValues.map((v, i) => normaliseKeyValue(v, hints[i] ?? 'other'))));
}

/**
 * JSON with object keys sorted, so equal content gives equal text. Written as loops (no
 * filter/map/join arrays): it runs for every row planned. The text is exactly what
 * `{${keys.filter(defined).map(k => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}` and
 * `[${items.map(canonicalJson).join(',')}]` give (holes in an array stay empty), since content
 * hashes in the ledger were made with it.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      // join() writes nothing for a hole, or for an element whose JSON is undefined (a function).
      if (i in value) out += canonicalJson(value[i]) ?? '';
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const [k, prefix] of sortedKeysOf(record)) {
    const v = record[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${prefix}${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

/** The keys of the last object shape seen, and those keys sorted with their JSON `"key":` prefix. */
let lastKeys: string[] = [];
let lastSorted: Array<[string, string]> = [];

/**
 * An object's keys in sorted order, each with its `"key":` text. Rows of one mapping all have
 * the same keys in the same order, so the last shape's sorted keys are reused when the keys
 * match it one for one (the same keys, so the same sorted order).
 */
function sortedKeysOf(record: Record<string, unknown>): Array<[string, string]> {
  const keys = Object.keys(record);
  let same = keys.length === lastKeys.length;
  for (let i = 0; same && i < keys.length; i++) same = keys[i] === lastKeys[i];
  if (!same) {
    lastKeys = keys;
    lastSorted = [...keys].sort().map((k) => [k, `${JSON.stringify(k)}:`]);
  }
  return lastSorted;
}

/**
 * A short hash per target field, salted with the mapping's hash so that a mapping change makes
 * every field differ (and sends everything). 64 bits each: a collision only costs a missed field
 * update when the whole content hash differs too, one row in billions.
 */
export function fieldHashes(fields: Record<string, unknown>, mappingHash: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(fields)) {
    if (fields[name] === undefined) continue;
    out[name] = sha256(`${mappingHash}\u0000${name}\u0000${canonicalJson(fields[name])}`).slice(0, 16);
  }
  return out;
}

/** SHA-256 of the canonical JSON of the mapped target fields: equal hash → no write. */
export function contentHash(fields: Record<string, unknown>): string {
  return sha256(canonicalJson(fields));
}
