import { odata, type TableEntity } from '@azure/data-tables';
import type { ConfigKind, ConfigStorage, RecordVersion, ReplaceOutcome, StoredDocument } from '../config-records';
import { backoff } from '../common';
import { checkEntitySize, encodeKey, getJson, putJson, str, type Props } from './keys';
import { CONTENTION_ATTEMPTS, fail, isStatus, stillContended, type Row, type StateTables } from './tables';

/**
 * Configuration records in `<p>Config`: PK = kind, RK = id, the document as chunked JSON and the
 * times as properties. The service's ETag is the version; a stale one is judged by the service
 * (412), because ETag spellings may differ between responses.
 */
export class TableConfigStorage implements ConfigStorage {
  constructor(private readonly tables: StateTables) {}

  async insert(kind: ConfigKind, id: string, doc: Record<string, unknown>): Promise<RecordVersion | null> {
    const now = new Date().toISOString();
    try {
      const res = await this.tables.client.Config.createEntity(this.entity(kind, id, doc, now, now));
      return { etag: res.etag, createdAt: now, updatedAt: now };
    } catch (error) {
      if (isStatus(error, 409)) return null;
      fail(error, `saving ${kind} '${id}'`);
    }
  }

  async replace(kind: ConfigKind, id: string, doc: Record<string, unknown>, etag: string): Promise<ReplaceOutcome> {
    const existing = await this.tables.get('Config', kind, encodeKey(id));
    if (!existing) return { refused: 'missing' };
    try {
      return { saved: await this.replaceRow(kind, id, doc, existing, etag) };
    } catch (error) {
      if (isStatus(error, 412)) return { refused: 'changed' };
      if (isStatus(error, 404)) return { refused: 'missing' };
      fail(error, `saving ${kind} '${id}'`);
    }
  }

  /** Create or replace under the ETag just read; a writer that lost the race reads again. */
  async upsert(kind: ConfigKind, id: string, doc: Record<string, unknown>): Promise<RecordVersion> {
    for (let attempt = 0; attempt <= CONTENTION_ATTEMPTS; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const existing = await this.tables.get('Config', kind, encodeKey(id));
      if (!existing) {
        const created = await this.insert(kind, id, doc);
        if (created) return created;
        continue;
      }
      try {
        return await this.replaceRow(kind, id, doc, existing, existing.etag);
      } catch (error) {
        if (!isStatus(error, 404, 412)) fail(error, `saving ${kind} '${id}'`);
      }
    }
    throw stillContended(`saving ${kind} '${id}'`);
  }

  async read(kind: ConfigKind, id: string): Promise<StoredDocument | null> {
    const row = await this.tables.get('Config', kind, encodeKey(id));
    return row ? documentOf(kind, row) : null;
  }

  async list(kind: ConfigKind): Promise<StoredDocument[]> {
    return (await this.tables.query('Config', odata`PartitionKey eq ${kind}`)).map((row) => documentOf(kind, row));
  }

  remove(kind: ConfigKind, id: string): Promise<boolean> {
    return this.tables.remove('Config', kind, encodeKey(id));
  }

  private async replaceRow(kind: ConfigKind, id: string, doc: Record<string, unknown>, existing: Row, etag: string): Promise<RecordVersion> {
    const now = new Date().toISOString();
    const createdAt = str(existing, 'createdAt') ?? now;
    const res = await this.tables.client.Config.updateEntity(this.entity(kind, id, doc, createdAt, now), 'Replace', { etag });
    return { etag: res.etag, createdAt, updatedAt: now };
  }

  private entity(kind: ConfigKind, id: string, doc: Record<string, unknown>, createdAt: string, updatedAt: string): TableEntity<Props> {
    const e: Props = { partitionKey: kind, rowKey: encodeKey(id), createdAt, updatedAt };
    putJson(e, 'doc', doc);
    checkEntitySize(e, `${kind} '${id}'`);
    return e as TableEntity<Props>;
  }
}

function documentOf(kind: ConfigKind, row: Row): StoredDocument {
  const doc = getJson(row, 'doc') as Record<string, unknown>;
  // Definitions written by earlier builds carry their id inside the document; the port has no such field.
  if (kind === 'definition') delete doc.id;
  return { doc, version: { etag: row.etag, createdAt: str(row, 'createdAt'), updatedAt: str(row, 'updatedAt') } };
}
