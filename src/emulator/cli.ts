/**
 * `npm run emulator -- --port 7072 [--host 127.0.0.1] [--budget 1250] [--latency 20] [--jitter 0]
 *                     [--snapshot .local/graph.json]`
 */
import { startGraphEmulator, type GraphEmulatorOptions } from './index';

const USAGE =
  'usage: npm run emulator -- [--port 7072] [--host 127.0.0.1] [--budget 1250] [--latency ms] [--jitter ms] [--snapshot file]';

function parseArgs(argv: string[]): GraphEmulatorOptions {
  const options: GraphEmulatorOptions = { port: 7072 };
  const latency = { fixed: 0, jitter: 0 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    const number = (): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) fail(`${flag} needs a non-negative number, not '${v}'`);
      return n;
    };
    switch (flag) {
      case '--port':
        options.port = number();
        break;
      case '--host':
        options.host = value();
        break;
      case '--budget':
        options.budgetRuPerMinute = number();
        break;
      case '--latency':
        latency.fixed = number();
        break;
      case '--jitter':
        latency.jitter = number();
        break;
      case '--snapshot':
        options.snapshotPath = value();
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown option ${arg}`);
    }
  }
  options.latencyMs = latency;
  return options;
}

/** Exits 1 with one line; argument mistakes also get the usage line. */
function fail(message: string, showUsage = true): never {
  console.error(showUsage ? `graph emulator: ${message}\n${USAGE}` : `graph emulator: ${message}`);
  process.exit(1);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  let emulator;
  try {
    emulator = await startGraphEmulator(options);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') fail(`port ${options.port} is already in use; pick another with --port`, false);
    if (err.code === 'EACCES') fail(`no permission to listen on port ${options.port}`, false);
    fail(err.message, false);
  }
  const { budgetRuPerMinute, latencyMs } = emulator.state.config();
  console.log(`Graph emulator listening on ${emulator.url}/v1.0`);
  console.log(`  default site  ${emulator.state.defaultSiteId}`);
  console.log(`  budget        ${budgetRuPerMinute} RU/min, latency ${latencyMs.fixed} ms + up to ${latencyMs.jitter} ms`);
  if (options.snapshotPath) console.log(`  snapshot      ${options.snapshotPath}`);
  console.log(`  control       ${emulator.url}/_emulator/metrics (Ctrl-C to stop)`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`graph emulator: ${signal}, stopping`);
    emulator
      .close()
      .then(() => process.exit(0))
      .catch((e: unknown) => {
        console.error(`graph emulator: ${String(e)}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
