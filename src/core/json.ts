import { isDeepStrictEqual } from 'node:util';

/**
 * Equality of two values as JSON documents: key order and `undefined` members do not count.
 * Stores hand documents back in their own key order (PostgreSQL's jsonb sorts keys), so
 * comparing serialised text would see a change where there is none.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(asJson(a), asJson(b));
}

const asJson = (value: unknown): unknown => (value === undefined ? null : JSON.parse(JSON.stringify(value)));
