import { SyncDefinitionInput } from '../../src/core/definitions';
import type { CursorPosition } from '../../src/core/ports/source';
import { carryCursor } from '../../src/sync/failover/cursor-policy';
import { ordersDefinition } from './fixtures';

describe('failover cursor policy', () => {
  const mark: CursorPosition = { at: 'mark', value: '0x00000000000007D1' };
  it('a rowversion cursor carries only between sources declared the same database, else it is rescanned', () => {
    const cursor = { kind: 'rowversion', column: 'rv' } as const;
    expect(carryCursor({ cursor, position: mark, requested: 'carry', sameDatabase: true })).toEqual({ applied: 'carry', position: mark });
    expect(carryCursor({ cursor, position: mark, requested: 'carry', sameDatabase: false })).toMatchObject({ applied: 'rescan', position: null, note: expect.stringContaining('sameDatabase') });
  });

  it('a timestamp cursor mid-pass carries as a mark, so the look-back window is re-read; an integer one keeps its exact keyset position', () => {
    const row: CursorPosition = { at: 'row', value: '2024-01-01 00:30:00+00', key: ['7'] };
    expect(carryCursor({ cursor: { kind: 'timestamp', column: 'u', lookbackSeconds: 60 }, position: row, requested: 'carry', sameDatabase: false })).toEqual({ applied: 'carry', position: { at: 'mark', value: '2024-01-01 00:30:00+00' } });
    expect(carryCursor({ cursor: { kind: 'integer', column: 'seq' }, position: row, requested: 'carry', sameDatabase: false })).toEqual({ applied: 'carry', position: row });
  });

  it('rescan, a full cursor and a pass still in its NULL rows all start from the beginning', () => {
    expect(carryCursor({ cursor: { kind: 'integer', column: 'seq' }, position: mark, requested: 'rescan', sameDatabase: true })).toEqual({ applied: 'rescan', position: null });
    expect(carryCursor({ cursor: { kind: 'full' }, position: null, requested: 'carry', sameDatabase: true }).applied).toBe('rescan');
    expect(carryCursor({ cursor: { kind: 'timestamp', column: 'u' }, position: { at: 'nulls', key: ['1'] }, requested: 'carry', sameDatabase: false }).applied).toBe('rescan');
  });
});

describe('failover settings of a definition', () => {
  it('the unread autoFailover setting is refused; failover defaults to manual only', () => {
    const base = ordersDefinition();
    const { failover: _f, ...withoutFailover } = base;
    expect(SyncDefinitionInput.safeParse({ ...withoutFailover, autoFailover: { enabled: true } }).success).toBe(false);
    expect(SyncDefinitionInput.parse(withoutFailover).failover).toEqual({ automatic: false, afterFailures: 3, holdDownMinutes: 30 });
  });

  it('exactly one primary source is required', () => {
    const base = ordersDefinition();
    const two = { ...base, sources: [{ connectionId: 'a', role: 'primary' }, { connectionId: 'b', role: 'primary' }] };
    const none = { ...base, sources: [{ connectionId: 'a', role: 'secondary' }] };
    expect(SyncDefinitionInput.safeParse(two).success).toBe(false);
    expect(SyncDefinitionInput.safeParse(none).success).toBe(false);
  });
});
