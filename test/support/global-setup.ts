import { startAzurite, startPostgres } from '../../src/local/services';

/**
 * Starts what the tests need, once per `npm test`: Azurite (in memory) and PostgreSQL
 * (127.0.0.1:5432 when it answers, else PGlite). Workers inherit the settings through env.
 */
export default async function globalSetup(): Promise<void> {
  const azurite = await startAzurite();
  // TEST_PGLITE=1 runs the suite as a fresh machine without PostgreSQL would.
  const pg = await startPostgres({ preferUrl: process.env.TEST_PG_URL, forcePglite: process.env.TEST_PGLITE === '1' });
  process.env.TEST_STORAGE_CONNECTION = azurite.connectionString;
  process.env.TEST_PG_URL = pg.url;
  process.env.TEST_PG_KIND = pg.kind;
  (globalThis as Record<string, unknown>).__services = [azurite, pg];
}
