import { notFound } from '../../core/errors';
import type { PutConfigOptions, StoredDefinition, StoredSharePoint, StoredSource, Versioned } from '../../core/ports/state';
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

/** The record each kind stores, and how its id is found. */
export interface ConfigRecordTypes {
  source: StoredSource;
  sharepoint: StoredSharePoint;
  definition: StoredDefinition;
}

const idOf: { [K in ConfigKind]: (record: ConfigRecordTypes[K]) => string } = {
  source: (source) => source.id,
  sharepoint: (conn) => conn.id,
  definition: (def) => def.definition.id,
};

export class ConfigRecords {
  constructor(private readonly storage: ConfigStorage) {}

  async put<K extends ConfigKind>(kind: K, record: ConfigRecordTypes[K], opts: PutConfigOptions = {}): Promise<ConfigRecordTypes[K]> {
    return { ...record, ...(await this.save(kind, idOf[kind](record), withoutVersion(record), opts)) };
  }

  async get<K extends ConfigKind>(kind: K, id: string): Promise<ConfigRecordTypes[K] | null> {
    const found = await this.storage.read(kind, id);
    return found ? withVersion(found) : null;
  }

  async list<K extends ConfigKind>(kind: K): Promise<Array<ConfigRecordTypes[K]>> {
    return (await this.storage.list(kind)).map((found) => withVersion(found));
  }

  remove(kind: ConfigKind, id: string): Promise<boolean> {
    return this.storage.remove(kind, id);
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
}
