import type { TokenCredential } from '@azure/core-auth';
import { configError } from '../../core/errors';
import type { StateStore } from '../../core/ports/state';
import { MODULE } from './common';
import { SqlServerStateStore } from './mssql-store';
import { PostgresStateStore } from './sql-store';
import { TableStateStore } from './table-store';

export { TableStateStore } from './table-store';
export { PostgresStateStore } from './sql-store';
export { SqlServerStateStore } from './mssql-store';

export interface StateStoreSettings {
  kind: 'table' | 'postgres' | 'sqlserver';
  /** Storage connection string (local/Azurite, or key-based). */
  connectionString?: string;
  /** `https://<account>.table.core.windows.net` for identity-based access (with `credential`). */
  accountUrl?: string;
  /** postgres://… or mssql://… (or an ADO string for SQL Server). */
  sqlUrl?: string;
  tablePrefix?: string;
  schema?: string;
  /** Connections a SQL store may open. */
  poolMax?: number;
}

/**
 * Builds the configured StateStore (STATE_STORE). The caller still awaits `init()` once at
 * start, which creates tables or applies migrations.
 */
export function createStateStore(settings: StateStoreSettings, credential?: TokenCredential): StateStore {
  switch (settings.kind) {
    case 'table': {
      if (settings.connectionString) return new TableStateStore({ connectionString: settings.connectionString, tablePrefix: settings.tablePrefix });
      if (settings.accountUrl && credential) return new TableStateStore({ accountUrl: settings.accountUrl, credential, tablePrefix: settings.tablePrefix });
      throw configError(
        MODULE,
        'state_store_config',
        'STATE_STORE=table needs a storage connection string (AzureWebJobsStorage) or an account URL with a credential (AzureWebJobsStorage__accountName)',
      );
    }
    case 'postgres':
      if (!settings.sqlUrl) throw configError(MODULE, 'state_store_config', 'STATE_STORE=postgres needs STATE_SQL_URL');
      return new PostgresStateStore({ url: settings.sqlUrl, schema: settings.schema, poolMax: settings.poolMax });
    case 'sqlserver':
      if (!settings.sqlUrl) throw configError(MODULE, 'state_store_config', 'STATE_STORE=sqlserver needs STATE_SQL_URL');
      return new SqlServerStateStore({ url: settings.sqlUrl, schema: settings.schema, poolMax: settings.poolMax });
  }
}
