import type { StateStore } from '../../core/ports/state';
import { DIFFERENCE_KINDS, type Difference, type DifferenceKind } from './types';

/** Differences per stored page: small enough for one Table Storage entity with fields for deep mismatches. */
export const DIFFERENCES_PAGE_SIZE = 200;

/**
 * Writes a report's differences a page at a time per kind, so a check holds at most one
 * unwritten page per kind whatever the list size.
 */
export class DifferenceWriter {
  private readonly buffers = new Map<DifferenceKind, Difference[]>();
  private readonly pages = new Map<DifferenceKind, number>();
  readonly counts: Record<DifferenceKind, number> = Object.fromEntries(DIFFERENCE_KINDS.map((k) => [k, 0])) as Record<DifferenceKind, number>;

  constructor(
    private readonly state: StateStore,
    private readonly definitionId: string,
    private readonly reportId: string,
  ) {}

  async add(difference: Difference): Promise<void> {
    const buffer = this.buffers.get(difference.kind) ?? [];
    buffer.push(difference);
    this.buffers.set(difference.kind, buffer);
    this.counts[difference.kind]++;
    if (buffer.length >= DIFFERENCES_PAGE_SIZE) await this.flushKind(difference.kind);
  }

  async flush(): Promise<void> {
    for (const kind of DIFFERENCE_KINDS) await this.flushKind(kind);
  }

  private async flushKind(kind: DifferenceKind): Promise<void> {
    const items = this.buffers.get(kind);
    if (!items?.length) return;
    const page = this.pages.get(kind) ?? 0;
    await this.state.putDriftDifferences({ definitionId: this.definitionId, reportId: this.reportId, kind, page, items });
    this.pages.set(kind, page + 1);
    this.buffers.set(kind, []);
  }
}

/** Every stored difference of one kind, a page at a time. */
export async function* readDifferences(state: StateStore, definitionId: string, reportId: string, kind: DifferenceKind, count: number, pageSize: number): AsyncIterable<Difference[]> {
  const pages = Math.ceil(count / pageSize);
  for (let page = 0; page < pages; page++) {
    const items = (await state.getDriftDifferences(definitionId, reportId, kind, page)) as Difference[] | null;
    if (items?.length) yield items;
  }
}
