import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * Starts the local stand-ins for Azure services: Azurite (tables + queues, from its npm
 * package) and, when no PostgreSQL answers, PGlite behind its socket server. Shared by the
 * local host, the test global setup and the benchmark.
 */

export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** Azurite's well-known development key (public, documented by Microsoft; not a secret). */
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface RunningService {
  stop(): Promise<void>;
}

export interface AzuriteHandle extends RunningService {
  tablePort: number;
  queuePort: number;
  connectionString: string;
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * `count` distinct free ports: all are held open together before any is released, so the
 * kernel cannot hand the same port out twice within one call.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      server.unref();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => {
            const address = server.address();
            resolve(typeof address === 'object' && address ? address.port : 0);
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}

export async function isPortOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitForPort(port: number, child: ChildProcess, what: string, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`${what} exited with code ${exited} before it listened on port ${port}`);
    if (await isPortOpen(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on port ${port} within ${timeoutMs} ms`);
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function storageConnectionString(tablePort: number, queuePort: number, host = '127.0.0.1'): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${AZURITE_ACCOUNT}`,
    `AccountKey=${AZURITE_KEY}`,
    `TableEndpoint=http://${host}:${tablePort}/${AZURITE_ACCOUNT}`,
    `QueueEndpoint=http://${host}:${queuePort}/${AZURITE_ACCOUNT}`,
  ].join(';');
}

export async function startAzurite(opts: { tablePort?: number; queuePort?: number; location?: string } = {}): Promise<AzuriteHandle> {
  // Ports picked here are free when picked, but another process starting at the same moment can
  // take one before Azurite binds it; with picked ports a lost race is retried on fresh ones.
  const pinned = opts.tablePort !== undefined || opts.queuePort !== undefined;
  for (let attempt = 1; ; attempt++) {
    const [tablePort, queuePort, blobPort] = await freePorts(3);
    try {
      return await startAzuriteOn(opts.tablePort ?? tablePort!, opts.queuePort ?? queuePort!, blobPort!, opts.location);
    } catch (error) {
      if (pinned || attempt >= 3 || !/EADDRINUSE|already in use/.test((error as Error).message)) throw error;
    }
  }
}

async function startAzuriteOn(tablePort: number, queuePort: number, blobPort: number, location: string | undefined): Promise<AzuriteHandle> {
  for (const port of [tablePort, queuePort]) {
    if (await isPortOpen(port)) throw new Error(`port ${port} is already in use; Azurite cannot start there`);
  }
  const bin = require.resolve('azurite/dist/src/azurite.js');
  const args = [bin, '--silent', '--disableTelemetry', '--skipApiVersionCheck', '--loose'];
  args.push('--tablePort', String(tablePort), '--queuePort', String(queuePort), '--blobPort', String(blobPort));
  if (location) {
    mkdirSync(location, { recursive: true });
    args.push('--location', path.resolve(location));
  } else {
    args.push('--inMemoryPersistence');
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  try {
    await waitForPort(tablePort, child, 'Azurite');
    await waitForPort(queuePort, child, 'Azurite');
    // An open port is not proof that it is ours: a process that won the race for it answers too.
    if (child.exitCode !== null) throw new Error(`Azurite exited with code ${child.exitCode} after its ports opened`);
  } catch (error) {
    await stopChild(child);
    throw new Error(`${(error as Error).message}${stderr ? `: ${stderr.trim()}` : ''}`);
  }
  return { tablePort, queuePort, connectionString: storageConnectionString(tablePort, queuePort), stop: () => stopChild(child) };
}

export interface PostgresHandle extends RunningService {
  /** postgres://… URL of a database the caller may use. */
  url: string;
  kind: 'postgres' | 'pglite';
}

/** Uses the PostgreSQL at 127.0.0.1:5432 when it answers, else starts PGlite's socket server. */
export async function startPostgres(opts: { preferUrl?: string; database?: string; dataDir?: string; forcePglite?: boolean } = {}): Promise<PostgresHandle> {
  if (opts.preferUrl) return { url: opts.preferUrl, kind: 'postgres', stop: async () => {} };
  if (!opts.forcePglite && (await isPortOpen(5432))) {
    return { url: `postgres://postgres@127.0.0.1:5432/${opts.database ?? 'test'}`, kind: 'postgres', stop: async () => {} };
  }
  const port = await freePort();
  // The package exports no subpath for its CLI; find it beside the package's entry point.
  const bin = path.join(path.dirname(require.resolve('@electric-sql/pglite-socket')), 'scripts', 'server.js');
  const args = [bin, `--port=${port}`, '--host=127.0.0.1', '--max-connections=40'];
  if (opts.dataDir) {
    mkdirSync(opts.dataDir, { recursive: true });
    args.push(`--db=${path.resolve(opts.dataDir)}`);
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForPort(port, child, 'PGlite');
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, kind: 'pglite', stop: () => stopChild(child) };
}
