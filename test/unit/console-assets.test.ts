import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { sha256Hex } from '../../src/console/app/sha256';
import { API_TYPES_FILE, renderApiTypes } from '../../src/console/scripts/api-types';
import { consoleFunction, defaultConsoleAssetDir } from '../../src/functions/console';

/** The console's pieces that need no browser: its API types, its assets function, its sha256. */

describe('the console is typed from the API', () => {
  it('the committed API types are what GET /api/openapi.json generates (run npm run console:api-types when this fails)', async () => {
    expect(readFileSync(API_TYPES_FILE, 'utf8')).toBe(await renderApiTypes());
  }, 30_000);
});

describe('the console assets function', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'console-assets-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>console</title>');
  writeFileSync(path.join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
  const fn = consoleFunction(dir);
  const get = (pathParam: string | undefined, url: string) =>
    fn.handler(new HttpRequest({ method: 'GET', url, params: pathParam === undefined ? {} : { path: pathParam } }), new InvocationContext());

  it('is anonymous and serves the page at /api/console/, never cached', async () => {
    expect(fn).toMatchObject({ authLevel: 'anonymous', route: 'console/{*path}', methods: ['GET'] });
    const page = await get('', 'http://localhost/api/console/');
    expect(page.status).toBe(200);
    expect(page.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
    expect(String(page.body)).toContain('<title>console</title>');
  });

  it('redirects /api/console to /api/console/ so relative asset URLs resolve', async () => {
    const response = await get(undefined, 'http://localhost/api/console');
    expect(response).toMatchObject({ status: 308, headers: { location: '/api/console/' } });
  });

  it('serves hashed bundles as immutable, with their content type', async () => {
    const bundle = await get('assets/index-abc.js', 'http://localhost/api/console/assets/index-abc.js');
    expect(bundle.headers).toMatchObject({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=31536000, immutable' });
  });

  it('never serves a file outside its folder, and says when the console is not built', async () => {
    expect((await get('../../etc/passwd', 'http://localhost/api/console/x')).status).toBe(404);
    expect((await get('assets/missing.js', 'http://localhost/api/console/assets/missing.js')).status).toBe(404);
    const unbuilt = await consoleFunction(path.join(dir, 'nope')).handler(new HttpRequest({ method: 'GET', url: 'http://localhost/api/console/', params: { path: '' } }), new InvocationContext());
    expect(unbuilt.status).toBe(503);
  });

  it('finds dist/console under the app root from src/functions and from dist/src/functions', () => {
    const root = path.resolve(__dirname, '../..');
    expect(defaultConsoleAssetDir(path.join(root, 'src', 'functions'))).toBe(path.join(root, 'dist', 'console'));
    expect(defaultConsoleAssetDir(path.join(root, 'dist', 'src', 'functions'))).toBe(path.join(root, 'dist', 'console'));
  });
});

describe("the console's browser sha256 (for the sharding preview's identities)", () => {
  it.each(['', 'abc', '["1"]', 'ü€ — a longer text that spans more than one 64-byte block of input, to be sure'])('hashes %j as node:crypto does', (text) => {
    expect(sha256Hex(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
  });
});
