import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';

/**
 * What a function is, as both runtimes see it. One function table drives both hosts:
 * `src/index.ts` registers it with the Azure Functions runtime and `src/local/` serves the very
 * same handlers (DESIGN §2). It lives apart from `src/functions/` so that `src/api` and
 * `src/local` can speak of functions without importing the triggers themselves.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpFunction {
  kind: 'http';
  name: string;
  methods: HttpMethod[];
  /** Functions route template under `/api`, e.g. `definitions/{id}/runs`. */
  route: string;
  authLevel: 'anonymous' | 'function' | 'admin';
  handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;
}

export interface TimerFunction {
  kind: 'timer';
  name: string;
  /** Six-field NCRONTAB, or `%SETTING%` resolved from app settings as in Functions. */
  schedule: string;
  runOnStartup?: boolean;
  handler: (timer: Timer, context: InvocationContext) => Promise<void>;
}

export interface QueueFunction {
  kind: 'queue';
  name: string;
  queueName: string;
  /** Service Bus sessions (one message at a time per session id). */
  sessions?: boolean;
  /**
   * Consumes the queue's dead letters instead of the queue itself: `<queue>/$deadletterqueue`
   * on Service Bus, `<queue>-poison` on the local host. Trigger metadata carries
   * `deadLetterReason` and `deadLetterErrorDescription` on both.
   */
  deadLetters?: boolean;
  handler: (message: unknown, context: InvocationContext) => Promise<void>;
}

export type FunctionDefinition = HttpFunction | TimerFunction | QueueFunction;

/** The Service Bus entity a queue function binds to. */
export const serviceBusEntity = (fn: QueueFunction) => (fn.deadLetters ? `${fn.queueName}/$deadletterqueue` : fn.queueName);

/** The Storage queue the local host pumps for a queue function. */
export const storageQueueOf = (fn: QueueFunction) => (fn.deadLetters ? poisonQueueName(fn.queueName) : fn.queueName);

export const poisonQueueName = (queueName: string) => `${queueName}-poison`;

/** Resolves `%NAME%` placeholders the way the Functions host does for trigger settings. */
export function resolveSettingPlaceholder(value: string, env: Record<string, string | undefined> = process.env): string {
  const match = /^%([A-Za-z0-9_]+)%$/.exec(value);
  if (!match) return value;
  const resolved = env[match[1]!];
  if (!resolved) throw new Error(`setting ${match[1]} (used by a trigger) is not set`);
  return resolved;
}
