import { canonicalDecimal, contentHash, identityHash } from '../../src/core/identity';

describe('row identity', () => {
  it('the same key read through different drivers gives the same identity', () => {
    expect(identityHash([42])).toBe(identityHash([42n]));
    expect(identityHash(['12.50'], ['decimal'])).toBe(identityHash([12.5], ['decimal']));
    expect(identityHash(['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'], ['uuid'])).toBe(identityHash(['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'], ['uuid']));
    expect(identityHash([new Date('2026-01-01T00:00:00Z')])).toBe(identityHash([new Date('2026-01-01T01:00:00+01:00')]));
    // NFC: "é" precomposed vs e + combining accent.
    expect(identityHash(['caf\u00e9'])).toBe(identityHash(['cafe\u0301']));
  });

  it('different keys, nulls and key orders give different identities', () => {
    expect(identityHash([1, 2])).not.toBe(identityHash([2, 1]));
    expect(identityHash([null])).not.toBe(identityHash(['null']));
    expect(identityHash(['1'])).toBe(identityHash([1]));
    expect(identityHash([1])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('decimals lose trailing zeros but keep their value', () => {
    expect(canonicalDecimal('0010.2300')).toBe('10.23');
    expect(canonicalDecimal('-0.000')).toBe('0');
    expect(canonicalDecimal('1e3')).toBe('1000');
  });

  it('content hashes ignore field order and see any value change', () => {
    expect(contentHash({ a: 1, b: 'x' })).toBe(contentHash({ b: 'x', a: 1 }));
    expect(contentHash({ a: 1, b: 'x' })).not.toBe(contentHash({ a: 1, b: 'y' }));
    expect(contentHash({ a: null })).not.toBe(contentHash({}));
  });
});
