import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createServices, type Services } from '../../src/composition';
import { loadConfig } from '../../src/config';
import { createFunctionTable } from '../../src/functions';

/**
 * How the product is wired: collaborators are handed to the function table by the host that
 * builds it, never looked up through a process-wide registry, and imports run down the layers.
 * Source scans, so a regression fails here before it shows up as a flaky test elsewhere.
 */

const root = path.resolve(__dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(relative);
    return /\.tsx?$/.test(entry.name) ? [relative] : [];
  });
}

/** Every module a file imports, re-exports or requires, as a path relative to the repository. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
  return specifiers.filter((s) => s.startsWith('.')).map((s) => path.relative(root, path.resolve(root, path.dirname(file), s)));
}

describe('imports run down the layers', () => {
  it('nothing under src/api imports src/functions (the triggers sit above the API helpers)', () => {
    const files = sourceFiles('src/api');
    expect(files.length).toBeGreaterThan(5);
    const upward = files.flatMap((file) => importsOf(file).filter((target) => target === 'src/functions' || target.startsWith(`src/functions${path.sep}`)).map((target) => `${file} → ${target}`));
    expect(upward).toEqual([]);
  });

  it('the import scan resolves relative imports to repository paths', () => {
    // Guards the test above: a scan that matched nothing would pass for the wrong reason.
    expect(importsOf('src/functions/index.ts')).toEqual(expect.arrayContaining(['src/functions/api', 'src/runtime/function-table']));
    expect(importsOf('src/api/index.ts')).toContain('src/api/routes/route');
  });
});

describe('collaborators are passed, not looked up', () => {
  const scanned = [...sourceFiles('src'), ...sourceFiles('test'), ...sourceFiles('bench')].filter((f) => f !== path.join('test', 'unit', 'wiring.test.ts'));

  it('no module exports or calls a global service lookup or setter', () => {
    // A bare `services()` call is the old lookup; `api.services()` (a harness member) and declarations are fine.
    const lookups = /\b(?:setServices|getServices|resetServices|currentServices)\b|(?<![.\w])services\(\)(?!\s*:)/;
    const offenders = scanned.filter((file) => lookups.test(readFileSync(path.join(root, file), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('no module keeps services in module-level state', () => {
    const moduleLevelServices = /^(?:export\s+)?(?:let|var)\s+\w+\s*(?::[^=\n]*\bServices\b|=\s*createServices\()/m;
    const offenders = scanned.filter((file) => moduleLevelServices.test(readFileSync(path.join(root, file), 'utf8')));
    expect(offenders).toEqual([]);
    expect(readFileSync(path.join(root, 'src/composition.ts'), 'utf8')).not.toMatch(/^(?:export\s+)?(?:let|var)\s/m);
  });

  it('building the function table touches no collaborator (registration in Azure connects to nothing)', () => {
    const real = createServices(loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', QUEUE_TRANSPORT: 'storage' }));
    const touched: string[] = [];
    const refuse = (name: string) => () => {
      touched.push(name);
      throw new Error(`${name}() was called while the table was built`);
    };
    const untouchable: Services = {
      ...real,
      credential: refuse('credential'),
      bus: refuse('bus'),
      secrets: refuse('secrets'),
      state: refuse('state'),
      source: refuse('source'),
      target: refuse('target'),
      probes: refuse('probes'),
    };
    const table = createFunctionTable(untouchable);
    expect(table.map((f) => f.name)).toEqual(expect.arrayContaining(['health', 'openapi', 'scheduler', 'syncRuns', 'syncWrites', 'syncMoves']));
    expect(touched).toEqual([]);
  });
});
