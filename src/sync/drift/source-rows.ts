import type { SyncDefinition } from '../../core/definitions';
import { identityHash } from '../../core/identity';
import { mapRow, type MappedRow, type ResolvedMapping } from '../../core/mapping';
import type { Row, SourceDatabase } from '../../core/ports/source';
import { routeRow, type RowRoute } from '../plan/route';

/** A source row found for an identity hash: its key, mapped content and where it belongs (null when it cannot be mapped or routed). */
export interface FoundRow {
  key: unknown[];
  mapped: MappedRow | null;
  route: RowRoute | null;
}

const KEY_PAGE = 5000;
const READ_PAGE = 500;

/**
 * Finds the source rows behind identity hashes. The ledger keeps only hashes, so this streams
 * the table's keys (keyset pages, no row bodies), hashes each and re-reads by key the few that
 * match: one pass per call, memory bounded by the hashes asked for.
 */
export async function findRows(source: SourceDatabase, def: SyncDefinition, mapping: ResolvedMapping, hashes: ReadonlySet<string>): Promise<Map<string, FoundRow>> {
  const found = new Map<string, FoundRow>();
  if (hashes.size === 0) return found;
  let keys: unknown[][] = [];
  const readPage = async () => {
    if (!keys.length) return;
    const rows = await source.readByKeys(def.table, mapping.readColumns, mapping.key, keys);
    keys = [];
    for (const [identity, row] of readRows(rows, def, mapping)) found.set(identity, row);
  };
  for await (const page of source.streamKeys(def.table, mapping.key, KEY_PAGE)) {
    for (const row of page) {
      const key = mapping.key.map((k) => row[k]);
      if (hashes.has(identityHash(key, mapping.keyHints))) keys.push(key);
      if (keys.length >= READ_PAGE) await readPage();
    }
    if (found.size + keys.length >= hashes.size) break; // everything asked for is located
  }
  await readPage();
  return found;
}

/** Source rows as drift needs them, by identity hash. */
export function readRows(rows: Row[], def: SyncDefinition, mapping: ResolvedMapping): Map<string, FoundRow> {
  const out = new Map<string, FoundRow>();
  for (const row of rows) {
    const key = mapping.key.map((k) => row[k]);
    const identity = identityHash(key, mapping.keyHints);
    let mapped: MappedRow | null = null;
    let route: RowRoute | null = null;
    try {
      mapped = mapRow(row, mapping);
      route = routeRow(def, row, identity);
    } catch {
      // A row SharePoint cannot hold or the shard policy cannot place: the run reports it as a row failure.
    }
    out.set(identity, { key, mapped, route });
  }
  return out;
}

/** The provisioned list a found row belongs in (shard list names compare case-insensitively, as SharePoint titles do); null if none. */
export function listIdFor(lists: Record<string, string> | undefined, row: FoundRow | undefined): string | null {
  if (!row?.mapped || row.route?.kind !== 'list') return null;
  const wanted = row.route.listName.toLowerCase();
  const hit = Object.entries(lists ?? {}).find(([name]) => name.toLowerCase() === wanted);
  return hit ? hit[1] : null;
}

/** Loose equality of a source value and what SharePoint shows for it (dates compared as instants, absent equals null). */
export function sameValue(source: unknown, sharePoint: unknown): boolean {
  const a = source ?? null;
  const b = sharePoint ?? null;
  if (a === b) return true;
  if (a === null || b === null) return (a === null && b === '') || (b === null && a === '');
  if (typeof a === 'number' || typeof b === 'number') return Number(a) === Number(b);
  if (typeof a === 'string' && typeof b === 'string') {
    const ta = Date.parse(a);
    return /^\d{4}-\d{2}-\d{2}/.test(a) && !Number.isNaN(ta) && ta === Date.parse(b);
  }
  return String(a) === String(b);
}
