/**
 * The snapshot file: the emulator's sites, lists, columns and items as JSON, loaded at start
 * and written atomically (a temporary file, then a rename). Indexes are rebuilt on load, and
 * delta history is not kept, so tokens from before a restart get 410.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Column, FieldValue } from './columns';
import { ListState } from './list';
import { createSite, type SiteState, type Store } from './store';

/** An item as `[id, guid, version, created, modified, fields]`, to keep large files small. */
type ItemRow = [number, string, number, number, number, Record<string, FieldValue>];

export interface SnapshotFile {
  format: 'graph-emulator-snapshot';
  version: 1;
  savedAt: string;
  sites: Array<{
    hostname: string;
    path: string;
    displayName: string;
    created: number;
    lists: Array<{
      id: string;
      displayName: string;
      description: string;
      created: number;
      modified: number;
      nextId: number;
      seq: number;
      columns: Column[];
      items: ItemRow[];
    }>;
  }>;
}

export function snapshotOf(store: Store, now: number): SnapshotFile {
  return {
    format: 'graph-emulator-snapshot',
    version: 1,
    savedAt: new Date(now).toISOString(),
    sites: [...store.sites.values()].map((site) => ({
      hostname: site.hostname,
      path: site.path,
      displayName: site.displayName,
      created: site.created,
      lists: [...site.lists.values()].map((list) => ({
        id: list.id,
        displayName: list.displayName,
        description: list.description,
        created: list.created,
        modified: list.modified,
        nextId: list.nextId,
        seq: list.seq,
        columns: list.columns.filter((c) => !c.builtIn),
        items: [...list.items.values()].map((i): ItemRow => [i.id, i.guid, i.version, i.created, i.modified, Object.fromEntries(i.fields)]),
      })),
    })),
  };
}

/** Replaces the store's sites with the snapshot's. */
export function restoreSnapshot(store: Store, snapshot: SnapshotFile): void {
  if (snapshot.format !== 'graph-emulator-snapshot' || snapshot.version !== 1) {
    throw new Error('not a graph emulator snapshot (format graph-emulator-snapshot, version 1)');
  }
  const sites: SiteState[] = [];
  for (const s of snapshot.sites) {
    const site = createSite({ hostname: s.hostname, path: s.path, displayName: s.displayName }, s.created);
    for (const l of s.lists) {
      const list = new ListState(site, l.id, l.displayName, l.description, l.created, l.modified);
      for (const column of l.columns) list.addColumn(column);
      list.restoreItems(
        l.items.map(([id, guid, version, created, modified, fields]) => ({
          id,
          guid,
          version,
          created,
          modified,
          fields: new Map(Object.entries(fields)),
        })),
        l.nextId,
        l.seq,
      );
      site.lists.set(list.id, list);
    }
    sites.push(site);
  }
  store.replaceSites(sites);
}

/** Loads the snapshot at `path` into the store; a missing file is a first start. */
export async function loadSnapshotFile(store: Store, path: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    restoreSnapshot(store, JSON.parse(text) as SnapshotFile);
  } catch (e) {
    throw new Error(`Cannot load the Graph emulator snapshot ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Writes the store to `path` through a temporary file, so a crash never leaves half a snapshot. */
export async function writeSnapshotFile(store: Store, path: string, now: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(snapshotOf(store, now)));
  await rename(tmp, path);
}
