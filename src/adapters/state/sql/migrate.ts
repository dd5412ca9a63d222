import { configError } from '../../../core/errors';
import { invalidInput, MODULE } from '../common';
import type { SqlMigration } from '../migrations/postgres';

/** How both SQL engines bring a schema up to date: in one transaction, under a lock, each migration recorded as it is applied. */

export interface MigrationSession {
  /** Makes instances starting together queue here; the first applies, the rest find nothing to do. */
  lock(): Promise<void>;
  /** Creates the schema and the `migrations` bookkeeping table where missing. */
  prepare(): Promise<void>;
  appliedVersions(): Promise<Set<number>>;
  apply(migration: SqlMigration): Promise<void>;
}

export async function migrate(session: MigrationSession, schema: string, migrations: SqlMigration[]): Promise<void> {
  await session.lock();
  await session.prepare();
  for (const m of pendingMigrations(schema, migrations, await session.appliedVersions())) await session.apply(m);
}

/** The migrations a schema that has `applied` still lacks, oldest first; a schema newer than this build is refused. */
function pendingMigrations(schema: string, migrations: SqlMigration[], applied: ReadonlySet<number>): SqlMigration[] {
  const newest = Math.max(0, ...applied);
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (newest > known) {
    throw configError(MODULE, 'state_schema_newer', `state schema '${schema}' is at version ${newest}, newer than this build knows (${known}); deploy the newer build`);
  }
  return [...migrations].sort((a, b) => a.version - b.version).filter((m) => !applied.has(m.version));
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The schema that holds the state tables, `sync_state` unless set. */
export function stateSchema(option: string | undefined): string {
  const name = option ?? 'sync_state';
  if (!SCHEMA_NAME.test(name)) throw invalidInput(`state schema '${name}' must be lower-case letters, digits and "_"`);
  return name;
}
