/**
 * The item ids a drift check saw in one list, as runs of consecutive ids. Graph returns list
 * items in ascending id order and SharePoint hands out ids in sequence, so a list keeps one run
 * per gap (a deleted item, a failed create): memory grows with the gaps, not with the items,
 * and a ledger entry is judged present or missing with a binary search.
 */
export class SeenIds {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly unordered = new Set<string>();

  add(id: string): void {
    const n = Number(id);
    const last = this.ends.length - 1;
    // A non-numeric or out-of-order id (not seen on Graph) is kept as is rather than mis-filed.
    if (!Number.isSafeInteger(n) || String(n) !== id || (last >= 0 && n <= this.ends[last]!)) {
      this.unordered.add(id);
      return;
    }
    if (last >= 0 && n === this.ends[last]! + 1) this.ends[last] = n;
    else {
      this.starts.push(n);
      this.ends.push(n);
    }
  }

  has(id: string): boolean {
    if (this.unordered.has(id)) return true;
    const n = Number(id);
    if (!Number.isSafeInteger(n)) return false;
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (n < this.starts[mid]!) hi = mid - 1;
      else if (n > this.ends[mid]!) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Runs held (for the memory figure in docs and tests). */
  get runs(): number {
    return this.starts.length + this.unordered.size;
  }
}
