/**
 * A list's change log for `/items/delta`: every create, update and delete takes the next
 * sequence number; a delta token carries the number it has seen up to.
 */

/** Change-log entries kept per list for delta; older tokens get 410. */
const MAX_CHANGE_LOG = 1_000_000;

export class ChangeLog {
  private current = 0;
  private expiredBelow = 0;
  private entries: { seq: number; id: number }[] = [];

  /** The sequence number of the latest change. */
  get seq(): number {
    return this.current;
  }

  /** Delta tokens older than this sequence number are expired. */
  get floor(): number {
    return this.expiredBelow;
  }

  record(id: number): void {
    this.current++;
    this.entries.push({ seq: this.current, id });
    if (this.entries.length > MAX_CHANGE_LOG) {
      const keep = this.entries.slice(this.entries.length / 2);
      this.expiredBelow = (keep[0]?.seq ?? this.current) - 1;
      this.entries = keep;
    }
  }

  /** Expires every delta token issued so far. */
  expireAll(): void {
    this.current++; // tokens carry a sequence <= the old one, all now below the floor
    this.expiredBelow = this.current;
    this.entries = [];
  }

  /** Starts afresh at `seq` (a restored snapshot keeps no history), so older tokens are expired. */
  restart(seq: number): void {
    this.current = seq;
    this.expiredBelow = seq;
  }

  /** Ids of items changed (created, updated or deleted) with sequence in (since, upto], ascending. */
  changedIds(since: number, upto: number): number[] {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid]?.seq ?? 0) <= since) lo = mid + 1;
      else hi = mid;
    }
    const ids = new Set<number>();
    for (let i = lo; i < this.entries.length; i++) {
      const entry = this.entries[i] as { seq: number; id: number };
      if (entry.seq > upto) break;
      ids.add(entry.id);
    }
    return [...ids].sort((a, b) => a - b);
  }
}
