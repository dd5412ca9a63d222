import { canonicalDecimal, canonicalJson, contentHash, fieldHashes, identityHash } from '../../src/core/identity';

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

  it('hashes stay those the ledger already holds (canonical text and digests pinned)', () => {
    // Written with the earlier filter/map/join canonical JSON and createHash: a faster spelling must give the same bytes.
    expect(canonicalJson({ b: [1, , undefined, null, 'x'], a: { z: 2, y: undefined, x: [] }, é: 'q\u0000"', n: -0.5, t: true })).toBe('{"a":{"x":[],"z":2},"b":[1,,null,null,"x"],"n":-0.5,"t":true,"é":"q\\u0000\\""}');
    const fields = { Title: 'Customer 7', amount: 2.59, quantity: 7, ordered_at: '2021-01-01T00:49:00.000Z', paid: false };
    expect(contentHash(fields)).toBe('1308900b8db4a929b4285591d91849eb0c8d363e72504a3dd0c4dad50777ca66');
    expect(identityHash([7])).toBe('2aaa0d08e3a122ebeb3a8ad58d25d4f9633aef77be71e5c52780a74cef886d53');
    expect(fieldHashes(fields, 'mapping-hash')).toEqual({ Title: 'aa35de319436c733', amount: '056294e2de2bb99a', quantity: '667f0cdcdeb92bef', ordered_at: '125448b77e90076b', paid: 'f120098d075d06c1' });
  });
});
