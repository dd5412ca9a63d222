import type { CursorPosition, CursorSpec } from '../../core/ports/source';
import type { CursorPolicy } from '../../core/ports/state';

/**
 * Where the new primary's cursor starts after a failover (DESIGN §7), a pure decision.
 * `carry` keeps what the old primary's cursor had covered: timestamp and integer values mean
 * the same on a replica of the same rows; rowversions are per database, so they carry only
 * between sources declared the same database (an availability-group replica). `rescan` starts
 * a full pass; content hashes keep the writes to rows that really differ.
 */
export interface CursorCarry {
  cursor: CursorSpec;
  /** The old primary's stored position (null: it had none, or it was rescanning). */
  position: CursorPosition | null;
  requested: CursorPolicy;
  /** Both sources are declared the same database. */
  sameDatabase: boolean;
}

export interface CarriedCursor {
  applied: CursorPolicy;
  position: CursorPosition | null;
  /** Why the applied policy differs from the requested one, when it does. */
  note?: string;
}

const rescan = (note?: string): CarriedCursor => ({ applied: 'rescan', position: null, ...(note ? { note } : {}) });

export function carryCursor(input: CursorCarry): CarriedCursor {
  if (input.requested === 'rescan') return rescan();
  const { kind } = input.cursor;
  if (kind === 'full') return rescan('a full cursor reads the whole table on every run');
  if (kind === 'rowversion' && !input.sameDatabase) return rescan('rowversions belong to one database: carried only between sources declared sameDatabase');
  const position = input.position;
  if (position === null) return { applied: 'carry', position: null };
  if (position.at === 'nulls') return rescan('the old primary was still reading rows whose cursor is NULL');
  // A timestamp mid-pass position becomes a mark: the next run then re-reads the look-back window
  // before it, which covers commits the old primary made visible late. Integer and rowversion
  // values are assigned in order, so their exact keyset position carries as it is.
  // A stored pass read time (`visibleBefore`) is dropped too: it speaks of what the old primary had
  // made visible, and a standby may have shown rows later, so the new primary's look-back is read whole.
  if (kind === 'timestamp' && (position.at === 'row' || position.at === 'mark')) return { applied: 'carry', position: { at: 'mark', value: position.value as string } };
  return { applied: 'carry', position };
}
