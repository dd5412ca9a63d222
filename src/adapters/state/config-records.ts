import { notFound } from '../../core/errors';
import type { ConfigStore, PutConfigOptions, StoredDefinition, StoredSharePoint, StoredSource, Versioned } from '../../core/ports/state';
import { MODULE, stateConflict } from './common';

/**
 * Configuration records (sources, SharePoint connections, definitions) with ETags, for every
 * backend: what `mustNotExist` and `ifMatch` mean, and which error says what. A backend
 * supplies `ConfigStorage`, its way of writing one versioned document.
 */

export type ConfigKind = 'source' | 'sharepoint' | 'definition';

/** The version a backend gave a record: an opaque ETag (row version or service ETag) and its times. */
export interface RecordVersion {
  etag?: string;
  createdAt?: string;
  updatedAt?: string;
}

/** A record as stored: the document without its version fields, and the version. */
export interface StoredDocument {
  doc: Record<string, unknown>;
  version: RecordVersion;
}

export type ReplaceOutcome = { saved: RecordVersion } | { refused: 'changed' | 'missing' };

export interface ConfigStorage {
  /** Writes a new record; null when a record with this id exists. */
  insert(kind: ConfigKind, id: string, doc: Record<string, unknown>): Promise<RecordVersion | null>;
  /** Replaces the record only while its version is still `etag`. */
  replace(kind: ConfigKind, id: string, doc: Record<string, unknown>, etag: string): Promise<ReplaceOutcome>;
  /** Writes the record whatever is stored, keeping an existing record's createdAt. */
  upsert(kind: ConfigKind, id: string, doc: Record<string, unknown>): Promise<RecordVersion>;
  read(kind: ConfigKind, id: string): Promise<StoredDocument | null>;
  list(kind: ConfigKind): Promise<StoredDocument[]>;
  remove(kind: ConfigKind, id: string): Promise<boolean>;
}

/** Removes the Versioned fields so they are never stored inside the document itself. */
function withoutVersion(record: Versioned): Record<string, unknown> {
  const { etag: _etag, createdAt: _createdAt, updatedAt: _updatedAt, ...rest } = record;
  return rest;
}

const withVersion = <T>(found: StoredDocument): T => ({ ...found.doc, ...found.version }) as T;

export class ConfigRecords implements ConfigStore {
  constructor(private readonly storage: ConfigStorage) {}

  putSource(source: StoredSource, opts?: PutConfigOptions): Promise<StoredSource> {
    return this.put('source', source.id, source, opts);
  }
  getSource(id: string): Promise<StoredSource | null> {
    return this.get('source', id);
  }
  listSources(): Promise<StoredSource[]> {
    return this.list('source');
  }
  deleteSource(id: string): Promise<boolean> {
    return this.storage.remove('source', id);
  }

  putSharePoint(conn: StoredSharePoint, opts?: PutConfigOptions): Promise<StoredSharePoint> {
    return this.put('sharepoint', conn.id, conn, opts);
  }
  getSharePoint(id: string): Promise<StoredSharePoint | null> {
    return this.get('sharepoint', id);
  }
  listSharePoint(): Promise<StoredSharePoint[]> {
    return this.list('sharepoint');
  }
  deleteSharePoint(id: string): Promise<boolean> {
    return this.storage.remove('sharepoint', id);
  }

  putDefinition(def: StoredDefinition, opts?: PutConfigOptions): Promise<StoredDefinition> {
    return this.put('definition', def.definition.id, def, opts);
  }
  getDefinition(id: string): Promise<StoredDefinition | null> {
    return this.get('definition', id);
  }
  listDefinitions(): Promise<StoredDefinition[]> {
    return this.list('definition');
  }
  deleteDefinition(id: string): Promise<boolean> {
    return this.storage.remove('definition', id);
  }

  private async put<T extends Versioned>(kind: ConfigKind, id: string, record: T, opts: PutConfigOptions = {}): Promise<T> {
    return { ...record, ...(await this.save(kind, id, withoutVersion(record), opts)) };
  }

  private async save(kind: ConfigKind, id: string, doc: Record<string, unknown>, opts: PutConfigOptions): Promise<RecordVersion> {
    if (opts.mustNotExist) {
      const created = await this.storage.insert(kind, id, doc);
      if (!created) throw stateConflict(`${kind} '${id}' already exists`);
      return created;
    }
    if (opts.ifMatch === undefined) return this.storage.upsert(kind, id, doc);
    const outcome = await this.storage.replace(kind, id, doc, opts.ifMatch);
    if ('saved' in outcome) return outcome.saved;
    if (outcome.refused === 'missing') throw notFound(MODULE, kind, id);
    throw stateConflict(`${kind} '${id}' was changed by someone else; reload it and retry`);
  }

  private async get<T>(kind: ConfigKind, id: string): Promise<T | null> {
    const found = await this.storage.read(kind, id);
    return found ? withVersion<T>(found) : null;
  }

  private async list<T>(kind: ConfigKind): Promise<T[]> {
    return (await this.storage.list(kind)).map((found) => withVersion<T>(found));
  }
}
