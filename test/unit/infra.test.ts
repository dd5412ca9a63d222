import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { SETTING_NAMES } from '../../src/config';
import { QUEUES } from '../../src/core/ports/bus';

/**
 * The Bicep CLI is not available here, so the templates are read as text. A small scanner
 * masks comments and string contents (keeping every offset), which is enough to find
 * statements, object keys and matching brackets reliably. The checks are the promises the
 * deployment makes: the queues the code uses exist with the right semantics, the app settings
 * are the ones src/config.ts reads, access is by identity with least-privilege roles.
 */

const ROOT = resolve(__dirname, '../..');
const INFRA = join(ROOT, 'infra');
const MAIN = join(INFRA, 'main.bicep');

// ------------------------------------------------------------------------------------------
// A Bicep text scanner
// ------------------------------------------------------------------------------------------

interface BicepFile {
  path: string;
  src: string;
  /** Same length as src: comments blanked, string contents replaced by '_' (quotes kept). */
  masked: string;
  /** Same length as src: comments blanked, strings kept (interpolations like '${x}' count as uses). */
  code: string;
}

function mask(src: string, path: string, keepStrings = false): string {
  const out = src.split('');
  let i = 0;
  const blank = (from: number, to: number, fill: string) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = fill;
  };
  while (i < src.length) {
    if (src.startsWith('//', i)) {
      const end = src.indexOf('\n', i);
      const stop = end === -1 ? src.length : end;
      blank(i, stop, ' ');
      i = stop;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      if (end === -1) throw new Error(`${path}: unterminated /* comment`);
      blank(i, end + 2, ' ');
      i = end + 2;
    } else if (src.startsWith("'''", i)) {
      const end = src.indexOf("'''", i + 3);
      if (end === -1) throw new Error(`${path}: unterminated ''' string`);
      if (!keepStrings) blank(i + 3, end, '_');
      i = end + 3;
    } else if (src[i] === "'") {
      let k = i + 1;
      while (k < src.length && src[k] !== "'") {
        if (src[k] === '\\') k++;
        if (src[k] === '\n') throw new Error(`${path}:${lineOf(src, i)}: string not closed on its line`);
        k++;
      }
      if (k >= src.length) throw new Error(`${path}:${lineOf(src, i)}: unterminated string`);
      if (!keepStrings) blank(i + 1, k, '_');
      i = k + 1;
    } else {
      i++;
    }
  }
  return out.join('');
}

function lineOf(src: string, index: number): number {
  return src.slice(0, index).split('\n').length;
}

const cache = new Map<string, BicepFile>();
function bicep(path: string): BicepFile {
  let file = cache.get(path);
  if (!file) {
    const src = readFileSync(path, 'utf8');
    file = { path, src, masked: mask(src, relative(ROOT, path)), code: mask(src, relative(ROOT, path), true) };
    cache.set(path, file);
  }
  return file;
}

const PAIRS: Record<string, string> = { '{': '}', '[': ']', '(': ')' };

/** Index of the bracket closing the one at `open`. */
function closing(file: BicepFile, open: number): number {
  const stack: string[] = [];
  for (let i = open; i < file.masked.length; i++) {
    const c = file.masked[i]!;
    if (c in PAIRS) stack.push(PAIRS[c]!);
    else if (c === '}' || c === ']' || c === ')') {
      if (stack.pop() !== c) throw new Error(`${relative(ROOT, file.path)}:${lineOf(file.src, i)}: unexpected '${c}'`);
      if (stack.length === 0) return i;
    }
  }
  throw new Error(`${relative(ROOT, file.path)}:${lineOf(file.src, open)}: '${file.masked[open]}' is never closed`);
}

/** Problems with bracket balance, as readable messages (empty when balanced). */
function bracketProblems(file: BicepFile): string[] {
  const stack: Array<{ close: string; at: number }> = [];
  const problems: string[] = [];
  for (let i = 0; i < file.masked.length; i++) {
    const c = file.masked[i]!;
    if (c in PAIRS) stack.push({ close: PAIRS[c]!, at: i });
    else if (c === '}' || c === ']' || c === ')') {
      const top = stack.pop();
      if (!top) problems.push(`line ${lineOf(file.src, i)}: '${c}' closes nothing`);
      else if (top.close !== c) problems.push(`line ${lineOf(file.src, i)}: '${c}' found where '${top.close}' (opened on line ${lineOf(file.src, top.at)}) was expected`);
    }
  }
  for (const open of stack) problems.push(`line ${lineOf(file.src, open.at)}: '${file.masked[open.at]}' is never closed`);
  return problems;
}

interface Statement {
  kind: string;
  /** Decorator lines (`@description(...)`, `@allowed([...])`) above the statement. */
  decorators: string[];
  text: string;
  start: number;
  end: number;
}

/** Top-level statements: logical lines at bracket depth 0, decorators attached to the next one. */
function statements(file: BicepFile): Statement[] {
  const result: Statement[] = [];
  let decorators: string[] = [];
  let depth = 0;
  let lineStart = 0;
  for (let i = 0; i <= file.masked.length; i++) {
    const c = file.masked[i];
    if (c !== undefined && c in PAIRS) depth++;
    else if (c === '}' || c === ']' || c === ')') depth--;
    if ((c === '\n' || c === undefined) && depth === 0) {
      const masked = file.masked.slice(lineStart, i).trim();
      const text = file.src.slice(lineStart, i).trim();
      if (masked.startsWith('@')) decorators.push(text);
      else if (masked) {
        result.push({ kind: masked.split(/[\s=]/)[0]!, decorators, text, start: lineStart, end: i });
        decorators = [];
      }
      lineStart = i + 1;
    }
  }
  return result;
}

interface Param {
  name: string;
  type: string;
  hasDefault: boolean;
  allowed?: string[];
  minValue?: number;
  maxValue?: number;
}

function params(file: BicepFile): Map<string, Param> {
  const map = new Map<string, Param>();
  for (const s of statements(file).filter((st) => st.kind === 'param')) {
    const m = /^param\s+(\w+)\s+(\w+)\s*(=)?/.exec(s.text);
    if (!m) throw new Error(`${relative(ROOT, file.path)}: cannot read "${s.text.split('\n')[0]}"`);
    const param: Param = { name: m[1]!, type: m[2]!, hasDefault: m[3] === '=' };
    for (const d of s.decorators) {
      if (d.startsWith('@allowed')) param.allowed = [...d.matchAll(/^\s*('([^']*)'|-?\d+|true|false)\s*$/gm)].map((x) => x[2] ?? x[1]!);
      const min = /^@minValue\((-?\d+)\)/.exec(d);
      if (min) param.minValue = Number(min[1]);
      const max = /^@maxValue\((-?\d+)\)/.exec(d);
      if (max) param.maxValue = Number(max[1]);
    }
    map.set(param.name, param);
  }
  return map;
}

function outputs(file: BicepFile): Set<string> {
  return new Set(statements(file).filter((s) => s.kind === 'output').map((s) => /^output\s+(\w+)/.exec(s.text)![1]!));
}

/** Entries at the top level of the object literal opening at `open`: key -> value text. */
function entries(file: BicepFile, open: number): Map<string, string> {
  const close = closing(file, open);
  const map = new Map<string, string>();
  const keyPattern = /\n[ \t]*([A-Za-z_$][\w$]*|'_*')[ \t]*:/g;
  keyPattern.lastIndex = open;
  let depth = 0;
  let scanned = open + 1;
  for (let m = keyPattern.exec(file.masked); m && m.index < close; m = keyPattern.exec(file.masked)) {
    for (; scanned < m.index; scanned++) {
      const c = file.masked[scanned]!;
      if (c in PAIRS) depth++;
      else if (c === '}' || c === ']' || c === ')') depth--;
    }
    if (depth !== 0) continue;
    const keyStart = m.index + m[0].indexOf(m[1]!);
    const key = file.src.slice(keyStart, keyStart + m[1]!.length).replace(/^'|'$/g, '');
    let valueStart = m.index + m[0].length;
    while (file.masked[valueStart] === ' ') valueStart++;
    let valueEnd = file.masked.indexOf('\n', valueStart);
    const first = file.masked[valueStart]!;
    if (first === '{' || first === '[') valueEnd = closing(file, valueStart) + 1;
    else {
      // A value may open a bracket that closes on a later line (`union(a, {`).
      let d = 0;
      for (let k = valueStart; k < file.masked.length; k++) {
        const c = file.masked[k]!;
        if (c in PAIRS) d++;
        else if (c === '}' || c === ']' || c === ')') d--;
        if ((c === '\n' && d <= 0) || d < 0) {
          valueEnd = k;
          break;
        }
      }
    }
    // Cut a trailing comment: it is blank in the masked text.
    const maskedValue = file.masked.slice(valueStart, valueEnd).trimEnd();
    map.set(key, file.src.slice(valueStart, valueStart + maskedValue.length).trim());
  }
  return map;
}

/** Object literals directly inside a span (not nested in another object). */
function objectsIn(file: BicepFile, from: number, to: number): number[] {
  const found: number[] = [];
  for (let i = from; i < to; i++) {
    const c = file.masked[i]!;
    if (c === '{') {
      found.push(i);
      i = closing(file, i);
    } else if (c === '[' || c === '(') i = closing(file, i);
  }
  return found;
}

function statementNamed(file: BicepFile, kind: string, name: string): Statement {
  const s = statements(file).find((st) => st.kind === kind && new RegExp(`^${kind}\\s+${name}\\b`).test(st.text));
  if (!s) throw new Error(`${relative(ROOT, file.path)} has no ${kind} named ${name}`);
  return s;
}

/** The object body (`= { ... }`, `= if (...) { ... }` or `= [for x in y: { ... }]`) of a resource or module. */
function bodyOf(file: BicepFile, s: Statement): number {
  const eq = file.masked.indexOf('=', s.start);
  const body = file.masked.indexOf('{', eq);
  if (body === -1 || body > s.end) throw new Error(`${relative(ROOT, file.path)}:${lineOf(file.src, s.start)}: no body`);
  return body;
}

interface Resource {
  symbol: string;
  type: string;
  statement: Statement;
  body: Map<string, string>;
  bodyAt: number;
}

function resources(file: BicepFile): Resource[] {
  return statements(file)
    .filter((s) => s.kind === 'resource')
    .map((s) => {
      const m = /^resource\s+(\w+)\s+'([^']+)'/.exec(s.text)!;
      const bodyAt = bodyOf(file, s);
      return { symbol: m[1]!, type: m[2]!, statement: s, body: entries(file, bodyAt), bodyAt };
    });
}

interface ModuleRef {
  file: BicepFile;
  symbol: string;
  path: string;
  target: string;
  params: Map<string, string>;
}

function modules(file: BicepFile): ModuleRef[] {
  return statements(file)
    .filter((s) => s.kind === 'module')
    .map((s) => {
      const m = /^module\s+(\w+)\s+'([^']+)'/.exec(s.text)!;
      const body = entries(file, bodyOf(file, s));
      const paramsText = body.get('params');
      const paramsAt = paramsText ? file.src.indexOf(paramsText, s.start) : -1;
      return {
        file,
        symbol: m[1]!,
        path: m[2]!,
        target: resolve(dirname(file.path), m[2]!),
        params: paramsAt >= 0 ? entries(file, paramsAt) : new Map<string, string>(),
      };
    });
}

function bicepFiles(): string[] {
  const list = [MAIN];
  for (const name of readdirSync(join(INFRA, 'modules'))) if (name.endsWith('.bicep')) list.push(join(INFRA, 'modules', name));
  return list;
}

// ------------------------------------------------------------------------------------------
// What the checks compare against
// ------------------------------------------------------------------------------------------

const SETTINGS = new Set<string>(SETTING_NAMES);

/** Settings the product reads that Azure must not set: local-only, or the secret-bearing form of an identity connection. */
const NOT_IN_AZURE: Record<string, string> = {
  GRAPH_STATIC_TOKEN: 'only for the Graph emulator',
  LOCAL_FUNCTION_KEY: 'only for the local host',
  AzureWebJobsStorage: 'a connection string; Azure connects by identity (AzureWebJobsStorage__accountName)',
  ServiceBusConnection: 'a connection string; Azure connects by identity (ServiceBusConnection__fullyQualifiedNamespace)',
};

/** Names the Functions platform (not src/config.ts) reads in Azure. */
const PLATFORM_SETTING = [/^APPLICATIONINSIGHTS_[A-Z_]+$/, /^AzureWebJobsStorage__\w+$/, /^ServiceBusConnection__\w+$/, /^AZURE_CLIENT_ID$/, /^FUNCTIONS_EXTENSION_VERSION$/];
/** Platform settings the identity-based connections cannot work without. */
const REQUIRED_PLATFORM_SETTINGS = [
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'ServiceBusConnection__credential',
  'ServiceBusConnection__clientId',
  'AZURE_CLIENT_ID',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
];
/** Names Functions Core Tools reads from local.settings.json. */
const LOCAL_PLATFORM_SETTINGS = new Set(['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsFeatureFlags']);

const ROLE = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
};
const FORBIDDEN_ROLES: Record<string, string> = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
  '090c5cfd-751d-490a-894a-3ce6f1109419': 'Azure Service Bus Data Owner',
  '00482a5a-887f-4fb3-b363-3b7fe8e74483': 'Key Vault Administrator',
  '17d1049b-9a84-46fb-8f53-869881c3d3ab': 'Storage Account Contributor',
};

// ------------------------------------------------------------------------------------------
// Reading the parts the checks need
// ------------------------------------------------------------------------------------------

interface AppSetting {
  name: string;
  value: string;
}

/** Every app setting functionapp.bicep writes, from every branch (`cond ? {} : {...}`). */
function functionAppSettings(): AppSetting[] {
  const file = bicep(join(INFRA, 'modules/functionapp.bicep'));
  const config = resources(file).find((r) => r.body.get('name') === "'appsettings'");
  if (!config) throw new Error("functionapp.bicep has no config resource named 'appsettings'");
  const properties = config.body.get('properties');
  if (!properties) throw new Error("the 'appsettings' resource has no properties");
  const propertiesAt = file.src.indexOf(properties, config.bodyAt);
  const objects: number[] = [];
  if (properties.startsWith('{')) objects.push(propertiesAt);
  else {
    const call = /^union\(/.exec(properties);
    if (!call) throw new Error(`appsettings properties must be an object or union(...), found: ${properties}`);
    const open = propertiesAt + 'union'.length;
    const args = file.src.slice(open + 1, closing(file, open));
    objects.push(...objectsIn(file, open + 1, closing(file, open)));
    for (const arg of args.split(',').map((a) => a.trim())) {
      if (!/^\w+$/.test(arg)) continue;
      const v = statementNamed(file, 'var', arg);
      const found = objectsIn(file, file.masked.indexOf('=', v.start) + 1, v.end);
      if (found.length === 0) throw new Error(`var ${arg} (used in appsettings) holds no object literal`);
      objects.push(...found);
    }
  }
  return objects.flatMap((at) => [...entries(file, at)].map(([name, value]) => ({ name, value })));
}

function settingValue(settings: AppSetting[], name: string): string {
  const s = settings.find((x) => x.name === name);
  if (!s) throw new Error(`functionapp.bicep does not set ${name}`);
  return s.value;
}

interface QueueDecl {
  name: string;
  properties: Map<string, string>;
}

/** Queues declared in servicebus.bicep, with each property resolved for that queue. */
function serviceBusQueues(): QueueDecl[] {
  const file = bicep(join(INFRA, 'modules/servicebus.bicep'));
  const queueResources = resources(file).filter((r) => r.type.startsWith('Microsoft.ServiceBus/namespaces/queues@'));
  if (queueResources.length === 0) throw new Error('servicebus.bicep declares no Microsoft.ServiceBus/namespaces/queues resource');
  const declared: QueueDecl[] = [];
  for (const r of queueResources) {
    const properties = r.body.get('properties');
    const own = properties ? entries(file, file.src.indexOf(properties, r.bodyAt)) : new Map<string, string>();
    const loop = /\[\s*for\s+(\w+)\s+in\s+(\w+)\s*:/.exec(r.statement.text);
    if (!loop) {
      declared.push({ name: (r.body.get('name') ?? '').replace(/^'|'$/g, ''), properties: own });
      continue;
    }
    const [, item, listName] = loop;
    const list = statementNamed(file, 'var', listName!);
    for (const at of objectsIn(file, file.masked.indexOf('[', list.start) + 1, list.end)) {
      const element = entries(file, at);
      const resolveValue = (value: string) => {
        const ref = new RegExp(`^${item}\\.(\\w+)$`).exec(value);
        return ref ? (element.get(ref[1]!) ?? `<${value} missing>`) : value;
      };
      const props = new Map([...own].map(([k, v]) => [k, resolveValue(v)]));
      declared.push({ name: resolveValue(r.body.get('name') ?? '').replace(/^'|'$/g, ''), properties: props });
    }
  }
  return declared;
}

function parametersFile(): Record<string, { value?: unknown; reference?: unknown }> {
  const json = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as { parameters?: Record<string, { value?: unknown }> };
  if (!json.parameters) throw new Error('main.parameters.json has no "parameters" object');
  return json.parameters;
}

// ------------------------------------------------------------------------------------------
// The checks
// ------------------------------------------------------------------------------------------

describe('infra: templates are well-formed', () => {
  it.each(bicepFiles().map((p) => [relative(ROOT, p)]))('%s has balanced brackets, closed strings and no TODO', (path) => {
    const file = bicep(join(ROOT, path));
    expect({ file: path, problems: bracketProblems(file) }).toEqual({ file: path, problems: [] });
    const todos = file.src.split('\n').flatMap((line, i) => (/\b(TODO|FIXME|XXX)\b/.test(line) ? [`line ${i + 1}: ${line.trim()}`] : []));
    expect({ file: path, todos }).toEqual({ file: path, todos: [] });
  });

  it('every module path and loadJsonContent path resolves to a file', () => {
    const missing: string[] = [];
    for (const path of bicepFiles()) {
      const file = bicep(path);
      for (const m of modules(file)) if (!existsSync(m.target)) missing.push(`${relative(ROOT, path)}: module ${m.symbol} '${m.path}'`);
      for (const m of file.src.matchAll(/loadJsonContent\('([^']+)'\)/g)) {
        if (!existsSync(resolve(dirname(path), m[1]!))) missing.push(`${relative(ROOT, path)}: loadJsonContent('${m[1]}')`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every module under infra/modules is used by main.bicep', () => {
    const used = new Set(modules(bicep(MAIN)).map((m) => m.target));
    const unused = bicepFiles().filter((p) => p !== MAIN && !used.has(p)).map((p) => relative(ROOT, p));
    expect(unused).toEqual([]);
  });

  it('main.bicep passes each module only params it declares, and every param it requires', () => {
    const problems: string[] = [];
    for (const m of modules(bicep(MAIN))) {
      const declared = params(bicep(m.target));
      for (const name of m.params.keys()) if (!declared.has(name)) problems.push(`module ${m.symbol} (${m.path}) has no param ${name}`);
      for (const p of declared.values()) if (!p.hasDefault && !m.params.has(p.name)) problems.push(`module ${m.symbol} (${m.path}) needs param ${p.name}`);
    }
    expect(problems).toEqual([]);
  });

  it('main.bicep reads only outputs its modules declare', () => {
    const main = bicep(MAIN);
    const byModule = new Map(modules(main).map((m) => [m.symbol, outputs(bicep(m.target))]));
    const problems = [...main.src.matchAll(/\b(\w+)\.outputs\.(\w+)/g)]
      .filter((m) => !byModule.get(m[1]!)?.has(m[2]!))
      .map((m) => `${m[1]}.outputs.${m[2]} (line ${lineOf(main.src, m.index)})`);
    expect(problems).toEqual([]);
  });

  it('every abbreviation main.bicep uses is in abbreviations.json', () => {
    const abbreviations = JSON.parse(readFileSync(join(INFRA, 'abbreviations.json'), 'utf8')) as Record<string, string>;
    const used = [...bicep(MAIN).src.matchAll(/\babbrs\.(\w+)/g)].map((m) => m[1]!);
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((u) => !(u in abbreviations))).toEqual([]);
  });

  it('every param and var is used (what the Bicep linter would flag)', () => {
    const unused: string[] = [];
    for (const path of bicepFiles()) {
      const file = bicep(path);
      for (const s of statements(file).filter((st) => st.kind === 'param' || st.kind === 'var')) {
        const name = /^(?:param|var)\s+(\w+)/.exec(s.text)![1]!;
        const declaredAt = s.start + s.kind.length + 1;
        const uses = [...file.code.matchAll(new RegExp(`(?<![\\w.])${name}\\b`, 'g'))].filter((m) => {
          if (m.index === declaredAt) return false;
          // `name: value` at the start of a line is an object key, not a use.
          const lineStart = file.code.lastIndexOf('\n', m.index) + 1;
          return !(/^\s*$/.test(file.code.slice(lineStart, m.index)) && file.code[m.index + name.length] === ':');
        });
        if (uses.length === 0) unused.push(`${relative(ROOT, path)}: ${s.kind} ${name}`);
      }
    }
    expect(unused).toEqual([]);
  });

  it('every resource names an API version', () => {
    const problems: string[] = [];
    for (const path of bicepFiles()) {
      for (const m of bicep(path).src.matchAll(/^\s*resource\s+(\w+)\s+'([^']+)'/gm)) {
        const [, symbol, type] = m;
        const nested = !type!.includes('/');
        if (!nested && !/@\d{4}-\d{2}-\d{2}(-preview)?$/.test(type!)) problems.push(`${relative(ROOT, path)}: ${symbol} '${type}'`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('infra: main.parameters.json fits main.bicep', () => {
  const declared = params(bicep(MAIN));
  const given = parametersFile();

  it('names only params main.bicep declares', () => {
    expect(Object.keys(given).filter((name) => !declared.has(name))).toEqual([]);
  });

  it('gives every param that has no default', () => {
    const missing = [...declared.values()].filter((p) => !p.hasDefault && !(p.name in given)).map((p) => p.name);
    expect(missing).toEqual([]);
  });

  it('uses azd placeholders for the environment name and location', () => {
    expect(given.environmentName?.value).toBe('${AZURE_ENV_NAME}');
    expect(given.location?.value).toBe('${AZURE_LOCATION}');
  });

  it('defaults (literal or ${VAR=default}) are values the params accept', () => {
    const problems: string[] = [];
    for (const [name, entry] of Object.entries(given)) {
      const param = declared.get(name);
      if (!param || typeof entry.value !== 'string') continue;
      const placeholder = /^\$\{(\w+)(?:=(.*))?\}$/.exec(entry.value);
      if (placeholder && placeholder[2] === undefined) continue; // required from the environment
      const value = placeholder ? placeholder[2]! : entry.value;
      if (param.allowed && !param.allowed.includes(value)) problems.push(`${name}: '${value}' is not one of ${param.allowed.join(', ')}`);
      if (param.type === 'int') {
        if (!/^-?\d+$/.test(value)) problems.push(`${name}: '${value}' is not an int`);
        else if ((param.minValue !== undefined && Number(value) < param.minValue) || (param.maxValue !== undefined && Number(value) > param.maxValue)) problems.push(`${name}: ${value} is out of range`);
      }
      if (param.type === 'bool' && !['true', 'false'].includes(value)) problems.push(`${name}: '${value}' is not true/false`);
    }
    expect(problems).toEqual([]);
  });

  it('main.bicep is deployed at subscription scope and creates the resource group', () => {
    const main = bicep(MAIN);
    expect(main.src).toMatch(/^targetScope = 'subscription'$/m);
    expect(resources(main).some((r) => r.type.startsWith('Microsoft.Resources/resourceGroups@'))).toBe(true);
    expect(main.src).toMatch(/uniqueString\(subscription\(\)\.id, environmentName, location\)/);
  });

  it('the documented parameters exist', () => {
    for (const name of ['environmentName', 'location', 'stateStore', 'graphBudgetRuPerMinute', 'allowSecretWrite', 'enableEntraAuth', 'serviceBusSku']) {
      expect({ param: name, declared: declared.has(name) }).toEqual({ param: name, declared: true });
    }
    expect(declared.get('stateStore')?.allowed).toEqual(['table', 'postgres', 'sqlserver']);
  });
});

describe('infra: Service Bus has the queues the code uses', () => {
  const queues = serviceBusQueues();
  const byName = new Map(queues.map((q) => [q.name, q]));

  it.each(Object.entries(QUEUES))('QUEUES.%s (%s) is declared in servicebus.bicep', (_key, name) => {
    expect({ queue: name, declaredIn: 'infra/modules/servicebus.bicep', declared: byName.has(name) }).toEqual({ queue: name, declaredIn: 'infra/modules/servicebus.bicep', declared: true });
  });

  it('declares no queue the code does not know', () => {
    const known = new Set<string>(Object.values(QUEUES));
    expect(queues.map((q) => q.name).filter((n) => !known.has(n))).toEqual([]);
  });

  it('sync-runs uses sessions (one run at a time per definition); the others do not', () => {
    for (const q of queues) {
      expect({ queue: q.name, requiresSession: q.properties.get('requiresSession') }).toEqual({ queue: q.name, requiresSession: q.name === QUEUES.runs ? 'true' : 'false' });
    }
  });

  it('every queue has duplicate detection, a lock, a delivery limit and dead-lettering on expiry', () => {
    for (const q of queues) {
      const p = Object.fromEntries(q.properties);
      expect({ queue: q.name, requiresDuplicateDetection: p.requiresDuplicateDetection, deadLetteringOnMessageExpiration: p.deadLetteringOnMessageExpiration }).toEqual({
        queue: q.name,
        requiresDuplicateDetection: 'true',
        deadLetteringOnMessageExpiration: 'true',
      });
      expect({ queue: q.name, duplicateDetectionHistoryTimeWindow: p.duplicateDetectionHistoryTimeWindow }).toEqual({ queue: q.name, duplicateDetectionHistoryTimeWindow: expect.stringMatching(/^'PT\d+[MH]'$/) });
      expect({ queue: q.name, lockDuration: p.lockDuration }).toEqual({ queue: q.name, lockDuration: "'PT5M'" });
      expect({ queue: q.name, maxDeliveryCount: p.maxDeliveryCount }).toEqual({ queue: q.name, maxDeliveryCount: expect.stringMatching(/^(\d+|maxDeliveryCount)$/) });
    }
  });

  it('the namespace accepts Entra ID only (local SAS auth off) and is not Basic', () => {
    const file = bicep(join(INFRA, 'modules/servicebus.bicep'));
    expect(file.masked).toMatch(/disableLocalAuth: true/);
    expect(params(file).get('sku')?.allowed).not.toContain('Basic');
  });
});

describe('infra: app settings match src/config.ts', () => {
  const settings = functionAppSettings();
  const names = new Set(settings.map((s) => s.name));

  it('every setting the function app gets is one the product or the platform reads', () => {
    const unknown = [...names].filter((n) => !SETTINGS.has(n) && !PLATFORM_SETTING.some((re) => re.test(n)));
    expect({ unknownSettingsInFunctionappBicep: unknown, hint: 'add the setting to src/config.ts (SETTINGS) or remove it from infra/modules/functionapp.bicep' }).toEqual({
      unknownSettingsInFunctionappBicep: [],
      hint: expect.any(String),
    });
  });

  it('every product setting needed in Azure is set', () => {
    const needed = SETTING_NAMES.filter((n) => !(n in NOT_IN_AZURE));
    const missing = [...needed, ...REQUIRED_PLATFORM_SETTINGS].filter((n) => !names.has(n));
    expect({ missingFromFunctionappBicep: missing, hint: 'set it in infra/modules/functionapp.bicep, or list it in NOT_IN_AZURE with the reason' }).toEqual({
      missingFromFunctionappBicep: [],
      hint: expect.any(String),
    });
  });

  it('local-only settings and secret-bearing connection strings are never set in Azure', () => {
    expect([...names].filter((n) => n in NOT_IN_AZURE).map((n) => `${n}: ${NOT_IN_AZURE[n]}`)).toEqual([]);
  });

  it('connections are identity-based and queues go through Service Bus', () => {
    expect(settingValue(settings, 'AzureWebJobsStorage__credential')).toBe("'managedidentity'");
    expect(settingValue(settings, 'ServiceBusConnection__credential')).toBe("'managedidentity'");
    expect(settingValue(settings, 'QUEUE_TRANSPORT')).toBe("'servicebus'");
    expect(settingValue(settings, 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toMatch(/Authorization=AAD/);
  });

  it('STATE_SQL_URL is a Key Vault reference, never the URL itself', () => {
    expect(settingValue(settings, 'STATE_SQL_URL')).toMatch(/^'@Microsoft\.KeyVault\(VaultName=\$\{\w+\};SecretName=\$\{\w+\}\)'$/);
    expect(bicep(join(INFRA, 'modules/functionapp.bicep')).masked).toMatch(/keyVaultReferenceIdentity: identityId/);
  });

  it("booleans are written 'true'/'false' (string(bool) gives 'True', which config.ts rejects)", () => {
    const value = settingValue(settings, 'ALLOW_SECRET_WRITE');
    expect(value).not.toMatch(/string\(/);
    expect(value).toMatch(/'true'/);
    expect(value).toMatch(/'false'/);
  });
});

describe('infra: local.settings.sample.json matches src/config.ts', () => {
  const sample = JSON.parse(readFileSync(join(ROOT, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> };
  const values = Object.keys(sample.Values);

  it('every name in the sample is a setting the product reads (or a Functions platform name)', () => {
    expect(values.filter((n) => !SETTINGS.has(n) && !LOCAL_PLATFORM_SETTINGS.has(n))).toEqual([]);
  });

  it('every setting the product reads appears in the sample', () => {
    const missing = SETTING_NAMES.filter((n) => !(n in sample.Values));
    expect({ missingFromLocalSettingsSample: missing, hint: 'add them to local.settings.sample.json (an empty value is fine)' }).toEqual({
      missingFromLocalSettingsSample: [],
      hint: expect.any(String),
    });
  });
});

describe('infra: access is least privilege', () => {
  const files = bicepFiles();
  const roleAssignments = files.flatMap((path) =>
    resources(bicep(path))
      .filter((r) => r.type.startsWith('Microsoft.Authorization/roleAssignments@'))
      .map((r) => ({ path, r })),
  );
  const rbac = bicep(join(INFRA, 'modules/rbac.bicep'));

  it('no template mentions an Owner, Contributor or data-owner role', () => {
    const hits: string[] = [];
    for (const path of files) {
      for (const [guid, role] of Object.entries(FORBIDDEN_ROLES)) if (bicep(path).src.toLowerCase().includes(guid)) hits.push(`${relative(ROOT, path)}: ${role} (${guid})`);
    }
    expect(hits).toEqual([]);
  });

  it('every role assignment is named guid(scope, principal, role) over the resource it is scoped to', () => {
    expect(roleAssignments.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const { path, r } of roleAssignments) {
      const name = r.body.get('name') ?? '';
      const m = /^guid\((\w+)\.id,\s*(\w+),\s*([\w.]+)\)$/.exec(name);
      const scope = r.body.get('scope');
      if (!m) problems.push(`${relative(ROOT, path)}: ${r.symbol} is named ${name || '(nothing)'}`);
      else if (scope !== m[1]) problems.push(`${relative(ROOT, path)}: ${r.symbol} is named after ${m[1]} but scoped to ${scope}`);
    }
    expect(problems).toEqual([]);
  });

  it('the identity gets the data roles the app needs', () => {
    const text = rbac.src.toLowerCase();
    const missing = Object.entries(ROLE).filter(([, guid]) => !text.includes(guid)).map(([role]) => role);
    expect(missing).toEqual([]);
  });

  it('Key Vault Secrets Officer is granted only with allowSecretWrite', () => {
    const officer = roleAssignments.filter(({ r }) => r.statement.text.includes('keyVaultSecretsOfficer') || r.statement.text.includes(ROLE.keyVaultSecretsOfficer));
    expect(officer).toHaveLength(1);
    expect(officer[0]!.r.statement.text).toMatch(/=\s*if\s*\(allowSecretWrite\)/);
  });

  it('Key Vault is RBAC-only, with soft delete and purge protection, and no access policies', () => {
    const file = bicep(join(INFRA, 'modules/keyvault.bicep'));
    expect(file.masked).toMatch(/enableRbacAuthorization: true/);
    expect(file.masked).toMatch(/enableSoftDelete: true/);
    expect(file.masked).toMatch(/enablePurgeProtection: true/);
    for (const path of files) expect({ file: relative(ROOT, path), accessPolicies: /\baccessPolicies\b/.test(bicep(path).masked) }).toEqual({ file: relative(ROOT, path), accessPolicies: false });
  });

  it('storage refuses shared keys and old TLS', () => {
    const file = bicep(join(INFRA, 'modules/storage.bicep'));
    expect(file.masked).toMatch(/allowSharedKeyAccess: false/);
    expect(file.src).toMatch(/minimumTlsVersion: 'TLS1_2'/);
    expect(file.masked).toMatch(/allowBlobPublicAccess: false/);
  });

  it('Application Insights takes Entra ID auth only', () => {
    expect(bicep(join(INFRA, 'modules/monitoring.bicep')).masked).toMatch(/DisableLocalAuth: true/);
  });

  it('the function app runs on Flex Consumption with the user-assigned identity for deployment storage', () => {
    const file = bicep(join(INFRA, 'modules/functionapp.bicep'));
    expect(file.src).toMatch(/name: 'FC1'\s+tier: 'FlexConsumption'/);
    expect(file.src).toMatch(/type: 'UserAssignedIdentity'\s+userAssignedIdentityResourceId: identityId/);
    expect(file.src).toMatch(/runtime: \{\s+name: 'node'/);
    expect(file.masked).toMatch(/instanceMemoryMB: instanceMemoryMB/);
    expect(file.masked).toMatch(/functionAppConfig:/);
    expect(file.masked).toMatch(/maximumInstanceCount: maximumInstanceCount/);
  });
});
