import { isSyncError } from '../../../core/errors';
import { iso } from '../common';
import type { ConfigKind, ConfigStorage, RecordVersion, ReplaceOutcome, StoredDocument } from '../config-records';
import { bind, type SqlDb } from './db';

/** Configuration records in SQL: one table per kind, the document as JSON, an integer version that every write bumps. */

const CONFIG_TABLES: Record<ConfigKind, string> = { source: 'sources', sharepoint: 'sharepoint_connections', definition: 'definitions' };
const VERSION_COLUMNS = ['version', 'created_at', 'updated_at'] as const;

interface VersionRow {
  version: string | number;
  created_at: Date;
  updated_at: Date;
}

interface ConfigRow extends VersionRow {
  doc: unknown;
}

const versionOf = (row: VersionRow): RecordVersion => ({ etag: String(row.version), createdAt: iso(row.created_at), updatedAt: iso(row.updated_at) });

export class SqlConfigStorage implements ConfigStorage {
  constructor(private readonly db: SqlDb) {}

  async insert(kind: ConfigKind, id: string, doc: Record<string, unknown>): Promise<RecordVersion | null> {
    const text = this.db.dialect.insertIfAbsent(this.table(kind), { key: { id: '@id' }, values: { doc: '@doc' }, returning: VERSION_COLUMNS });
    try {
      const row = (await this.db.query<VersionRow>(`saving ${kind} '${id}'`, text, { id: bind.key(id), doc: bind.json(doc) })).rows[0];
      return row ? versionOf(row) : null;
    } catch (error) {
      // A concurrent create of the same id that got past the existence check.
      if (isSyncError(error, 'state_conflict')) return null;
      throw error;
    }
  }

  async replace(kind: ConfigKind, id: string, doc: Record<string, unknown>, etag: string): Promise<ReplaceOutcome> {
    const { dialect } = this.db;
    const text = dialect.updateReturning(this.table(kind), `doc = @doc, version = version + 1, updated_at = ${dialect.now}`, 'id = @id AND version = @version', VERSION_COLUMNS);
    // Versions are whole numbers; any other ETag cannot match a row.
    const version = /^\d+$/.test(etag) ? etag : '-1';
    const row = (await this.db.query<VersionRow>(`saving ${kind} '${id}'`, text, { id: bind.key(id), doc: bind.json(doc), version: bind.bigint(version) })).rows[0];
    if (row) return { saved: versionOf(row) };
    const exists = await this.db.query(`saving ${kind} '${id}'`, `SELECT 1 AS found FROM ${this.table(kind)} WHERE id = @id`, { id: bind.key(id) });
    return { refused: exists.rows.length === 0 ? 'missing' : 'changed' };
  }

  async upsert(kind: ConfigKind, id: string, doc: Record<string, unknown>): Promise<RecordVersion> {
    const text = this.db.dialect.upsert(this.table(kind), {
      key: { id: '@id' },
      values: { doc: '@doc' },
      onUpdate: { version: 't.version + 1', updated_at: this.db.dialect.now },
      returning: VERSION_COLUMNS,
    });
    const row = (await this.db.query<VersionRow>(`saving ${kind} '${id}'`, text, { id: bind.key(id), doc: bind.json(doc) })).rows[0];
    return versionOf(row as VersionRow);
  }

  async read(kind: ConfigKind, id: string): Promise<StoredDocument | null> {
    const res = await this.db.query<ConfigRow>(`reading ${kind}`, `SELECT doc, version, created_at, updated_at FROM ${this.table(kind)} WHERE id = @id`, { id: bind.key(id) });
    const row = res.rows[0];
    return row ? this.documentOf(row) : null;
  }

  async list(kind: ConfigKind): Promise<StoredDocument[]> {
    const res = await this.db.query<ConfigRow>(`listing ${kind}`, `SELECT doc, version, created_at, updated_at FROM ${this.table(kind)} ORDER BY id`);
    return res.rows.map((row) => this.documentOf(row));
  }

  async remove(kind: ConfigKind, id: string): Promise<boolean> {
    return (await this.db.query(`deleting ${kind}`, `DELETE FROM ${this.table(kind)} WHERE id = @id`, { id: bind.key(id) })).count > 0;
  }

  private table(kind: ConfigKind): string {
    return `${this.db.dialect.schema}.${CONFIG_TABLES[kind]}`;
  }

  private documentOf(row: ConfigRow): StoredDocument {
    return { doc: this.db.json(row.doc) as Record<string, unknown>, version: versionOf(row) };
  }
}
