import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Reads settings the way Core Tools does: `local.settings.json` Values (falling back to the
 * committed sample on a fresh clone), with the process environment taking precedence.
 */
export function loadLocalSettings(root = process.cwd(), env: NodeJS.ProcessEnv = process.env): { values: Record<string, string>; source: string } {
  const own = path.join(root, 'local.settings.json');
  const sample = path.join(root, 'local.settings.sample.json');
  const file = existsSync(own) ? own : sample;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> };
  const values: Record<string, string> = { ...(parsed.Values ?? {}) };
  for (const [k, v] of Object.entries(env)) if (v !== undefined && (k in values || /^[A-Z][A-Za-z0-9_]*$/.test(k))) values[k] = v;
  return { values, source: path.basename(file) };
}

/** host.json `extensions.queues` → the local pump's options. */
export function queueOptionsFromHostJson(root = process.cwd()): { maxDequeueCount?: number; retryDelayMs?: number; batchSize?: number; newBatchThreshold?: number; pollIntervalMs?: number } {
  const file = path.join(root, 'host.json');
  if (!existsSync(file)) return {};
  const host = JSON.parse(readFileSync(file, 'utf8')) as { extensions?: { queues?: Record<string, unknown> } };
  const q = host.extensions?.queues ?? {};
  return {
    maxDequeueCount: typeof q.maxDequeueCount === 'number' ? q.maxDequeueCount : undefined,
    retryDelayMs: typeof q.visibilityTimeout === 'string' ? timeSpanMs(q.visibilityTimeout) : undefined,
    batchSize: typeof q.batchSize === 'number' ? q.batchSize : undefined,
    newBatchThreshold: typeof q.newBatchThreshold === 'number' ? q.newBatchThreshold : undefined,
    pollIntervalMs: typeof q.maxPollingInterval === 'string' ? Math.min(timeSpanMs(q.maxPollingInterval), 1000) : undefined,
  };
}

/** .NET TimeSpan `hh:mm:ss[.fff]` → milliseconds. */
export function timeSpanMs(text: string): number {
  const m = /^(\d+):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(text);
  if (!m) throw new Error(`'${text}' is not a hh:mm:ss time span`);
  const fraction = m[4] ? Number(`0.${m[4]}`) : 0;
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3]) + fraction) * 1000;
}
