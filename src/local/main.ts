import path from 'node:path';
import { createServices } from '../composition';
import { ConfigurationError, loadConfig } from '../config';
import { startGraphEmulator } from '../emulator';
import { createFunctionTable } from '../functions';
import { LocalHost, PortInUseError } from './host';
import { isPortOpen, startAzurite, startPostgres, type RunningService } from './services';
import { seedDemoDatabase } from './demo';
import { loadLocalSettings, queueOptionsFromHostJson } from './settings';

/**
 * `npm start`: Azurite (tables + queues), the Graph emulator, a demo PostgreSQL, and the
 * function table served on http://localhost:7071/api, all stopped cleanly by Ctrl-C.
 */
async function main(): Promise<void> {
  const root = process.cwd();
  const stateDir = path.resolve(root, process.env.LOCAL_STATE_DIR ?? '.local');
  const { values, source } = loadLocalSettings(root);
  const httpPort = Number(process.env.LOCAL_HTTP_PORT ?? 7071);
  const running: RunningService[] = [];
  const stopAll = async () => {
    for (const s of running.reverse()) await s.stop().catch(() => undefined);
  };
  const say = (text: string) => console.log(text);

  // Validate every setting before starting anything, so a typo fails fast and names itself.
  loadConfig({ ...process.env, ...values, AzureWebJobsStorage: values.AzureWebJobsStorage || 'UseDevelopmentStorage=true' });
  if (await isPortOpen(httpPort)) throw new PortInUseError(httpPort);

  if (!values.AzureWebJobsStorage || values.AzureWebJobsStorage === 'UseDevelopmentStorage=true') {
    const azurite = await startAzurite({ location: path.join(stateDir, 'azurite') });
    running.push(azurite);
    values.AzureWebJobsStorage = azurite.connectionString;
    say(`azurite      tables :${azurite.tablePort}  queues :${azurite.queuePort}  (data in ${path.relative(root, path.join(stateDir, 'azurite')) || '.'})`);
  }

  const graphUrl = new URL(values.GRAPH_BASE_URL ?? 'http://127.0.0.1:7072');
  if (['127.0.0.1', 'localhost'].includes(graphUrl.hostname)) {
    const port = Number(graphUrl.port || 80);
    if (await isPortOpen(port)) throw new PortInUseError(port);
    const emulator = await startGraphEmulator({
      port,
      budgetRuPerMinute: Number(values.GRAPH_BUDGET_RU_PER_MINUTE ?? 1250),
      snapshotPath: path.join(stateDir, 'graph-emulator.json'),
    });
    running.push({ stop: () => emulator.close() });
    say(`graph        ${emulator.url}  (SharePoint emulator; inspect at /_emulator/lists)`);
  }

  if (values.LOCAL_DEMO_DATABASE !== 'false') {
    const pg = await startPostgres({ database: 'postgres', dataDir: path.join(stateDir, 'pglite') });
    running.push(pg);
    // The demo source's secret, as a Key Vault reference would resolve it: secretRef `demo-pg`.
    values.SECRET_DEMO_PG ??= pg.url;
    const seeded = await seedDemoDatabase(pg.url);
    const where = new URL(pg.url);
    say(`postgres     ${where.host}${where.pathname}  (${pg.kind === 'pglite' ? 'PGlite demo database' : 'local PostgreSQL'}; demo.orders ${seeded.created ? 'created' : 'ready'}, secretRef demo-pg)`);
  }

  for (const [k, v] of Object.entries(values)) process.env[k] = v;
  let cfg;
  try {
    cfg = loadConfig(process.env);
  } catch (error) {
    await stopAll();
    throw error;
  }
  // The same table the Functions entry registers, wired to this host's own services.
  const functions = createFunctionTable(createServices(cfg));

  const host = new LocalHost({
    functions,
    port: httpPort,
    storageConnectionString: values.AzureWebJobsStorage,
    functionKey: cfg.LOCAL_FUNCTION_KEY,
    queues: queueOptionsFromHostJson(root),
    env: process.env,
  });
  try {
    await host.start();
  } catch (error) {
    await stopAll();
    throw error;
  }
  running.push({ stop: () => host.stop() });
  say(`settings     ${source} (environment overrides)`);
  say(`functions    ${functions.map((f) => `${f.name} (${f.kind})`).join(', ')}`);
  say(`\nManagement API: ${host.url.replace('127.0.0.1', 'localhost')}/api   (try: curl -s localhost:${httpPort}/api/health)`);
  say(`Admin console:  ${host.url.replace('127.0.0.1', 'localhost')}/api/console/   (function key: ${cfg.LOCAL_FUNCTION_KEY ?? 'none needed'})`);
  say('Press Ctrl-C to stop.');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`\n${signal}: stopping…`);
    await stopAll();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigurationError || error instanceof PortInUseError) {
    console.error(`Cannot start: ${error.message}`);
  } else {
    console.error(`Cannot start: ${(error as Error).message}`);
  }
  process.exit(1);
});
