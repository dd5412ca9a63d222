import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/local/services';

/** `npm start` as an admin meets it: the local host process, started and stopped for real. */
const tsx = path.resolve('node_modules/.bin/tsx');

function start(env: Record<string, string>) {
  const child = spawn(tsx, ['src/local/main.ts'], {
    env: { ...process.env, LOCAL_DEMO_DATABASE: 'false', LOCAL_STATE_DIR: mkdtempSync(path.join(os.tmpdir(), 'sync-local-')), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

describe('the local host process (npm start)', () => {
  it('serves /api/health within 30 s and stops cleanly on Ctrl-C', async () => {
    const port = await freePort();
    const graphPort = await freePort();
    const host = start({ LOCAL_HTTP_PORT: String(port), GRAPH_BASE_URL: `http://127.0.0.1:${graphPort}` });
    try {
      const deadline = Date.now() + 30_000;
      let status = 0;
      let body: unknown;
      while (Date.now() < deadline && status !== 200) {
        await new Promise((r) => setTimeout(r, 250));
        try {
          const response = await fetch(`http://127.0.0.1:${port}/api/health`);
          status = response.status;
          body = await response.json();
        } catch {
          // not listening yet
        }
      }
      expect(status).toBe(200);
      expect(body).toMatchObject({ status: 'ok', checks: { stateStore: { status: 'ok' }, queues: { status: 'ok' }, graph: { status: 'ok' } } });
    } finally {
      host.child.kill('SIGINT');
    }
    expect(await host.exited).toBe(0);
    expect(host.output()).toContain('stopping');
  }, 45_000);

  it('a bad setting stops start-up with a message naming the setting', async () => {
    const host = start({ LOCAL_HTTP_PORT: String(await freePort()), GRAPH_BASE_URL: `http://127.0.0.1:${await freePort()}`, GRAPH_BUDGET_RU_PER_MINUTE: 'lots' });
    expect(await host.exited).toBe(1);
    expect(host.output()).toMatch(/Cannot start: Invalid settings:\s+- GRAPH_BUDGET_RU_PER_MINUTE: must be a whole number/);
  }, 45_000);

  it('a port already in use gives a clear message, not a stack trace', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      const host = start({ LOCAL_HTTP_PORT: String(port), GRAPH_BASE_URL: `http://127.0.0.1:${await freePort()}` });
      expect(await host.exited).toBe(1);
      expect(host.output()).toContain(`Cannot start: port ${port} is already in use`);
      expect(host.output()).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  }, 45_000);
});
