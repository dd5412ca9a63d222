import { randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { HttpRequest, HttpResponse, InvocationContext, type Timer } from '@azure/functions';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { problem } from '../api/http';
import { nextOccurrence, parseNcrontab } from '../core/ncrontab';
import { decodeEnvelope, encodeEnvelope, storageQueueSends } from '../adapters/bus/storage-queue-bus';
import { poisonQueueName, resolveSettingPlaceholder, storageQueueOf, type FunctionDefinition, type HttpFunction, type QueueFunction, type TimerFunction } from '../runtime/function-table';
import { Router } from './router';

/**
 * The local host: serves the same function table the Functions runtime registers, without
 * Core Tools. HTTP on `/api` with route params and function keys, timers on NCRONTAB
 * schedules, and a Storage-queue pump with visibility timeouts, dequeue counts and `-poison`
 * queues, as the Functions queue trigger behaves. A message is poisoned with its reason, and
 * the function table's dead-letter functions consume `<queue>-poison` as Service Bus
 * `<queue>/$deadletterqueue` triggers would.
 */

export interface QueuePumpOptions {
  /** Deliveries before a failing message moves to `<queue>-poison` (host.json queues.maxDequeueCount). */
  maxDequeueCount: number;
  /** How long a failed message stays invisible before redelivery (host.json queues.visibilityTimeout). */
  retryDelayMs: number;
  /** Lock held on a message while its handler runs; renewed at half-time. */
  lockMs: number;
  /** Longest wait between polls of an empty queue; a message sent in this process wakes the pump at once. */
  pollIntervalMs: number;
  /** Messages fetched per poll (host.json queues.batchSize). */
  batchSize: number;
  /** A new batch is fetched once this few messages are still running (host.json queues.newBatchThreshold; default batchSize / 2). */
  newBatchThreshold?: number;
  /** Service Bus duplicate detection, emulated: the same messageId within this window runs once. */
  duplicateDetectionWindowMs: number;
}

export interface LocalHostOptions {
  functions: FunctionDefinition[];
  port: number;
  host?: string;
  /** Storage connection string for the queue pump; required when the table has queue functions. */
  storageConnectionString?: string;
  /** Key for auth level `function` (x-functions-key header or ?code=). Unset = every such call is 401. */
  functionKey?: string;
  queues?: Partial<QueuePumpOptions>;
  log?: (level: 'info' | 'warn' | 'error' | 'debug', message: string) => void;
  env?: Record<string, string | undefined>;
}

const DEFAULT_QUEUE: QueuePumpOptions = {
  maxDequeueCount: 5,
  retryDelayMs: 0,
  lockMs: 5 * 60_000,
  pollIntervalMs: 250,
  batchSize: 16,
  duplicateDetectionWindowMs: 10 * 60_000,
};

export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(`port ${port} is already in use: stop the process using it, or choose another port`);
  }
}

export class LocalHost {
  private server?: http.Server;
  private readonly router: Router;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pumps: Promise<void>[] = [];
  private stopping = false;
  private readonly queueOptions: QueuePumpOptions;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly seenMessageIds = new Map<string, number>();
  private readonly sessionChains = new Map<string, Promise<void>>();
  private readonly wakes = new Map<string, PumpWake>();
  url = '';

  constructor(private readonly options: LocalHostOptions) {
    this.router = new Router(options.functions.filter((f): f is HttpFunction => f.kind === 'http'));
    this.queueOptions = { ...DEFAULT_QUEUE, ...options.queues };
  }

  private log(level: 'info' | 'warn' | 'error' | 'debug', message: string): void {
    (this.options.log ?? ((l, m) => (l === 'debug' ? undefined : console.log(`[${l}] ${m}`))))(level, message);
  }

  private context(functionName: string, triggerMetadata?: Record<string, unknown>): InvocationContext {
    return new InvocationContext({
      invocationId: randomUUID(),
      functionName,
      triggerMetadata,
      logHandler: (level, ...args) => {
        const text = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
        const mapped = level === 'error' || level === 'critical' ? 'error' : level === 'warning' ? 'warn' : level === 'information' ? 'info' : 'debug';
        this.log(mapped, `${functionName}: ${text}`);
      },
    });
  }

  /** True while any HTTP request, timer or queue message is being handled. */
  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  async start(): Promise<void> {
    await this.startHttp();
    for (const fn of this.options.functions) {
      if (fn.kind === 'timer') this.scheduleTimer(fn);
      if (fn.kind === 'queue') this.pumps.push(this.pump(fn));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.timers.forEach(clearTimeout);
    this.wakes.forEach((wake) => wake.stop());
    await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled(this.pumps);
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections?.();
      this.server.close(() => resolve());
    });
  }

  // ---- HTTP ----

  private startHttp(): Promise<void> {
    const server = http.createServer((req, res) => {
      const work = this.handleHttp(req, res).catch((error) => {
        this.log('error', `http: ${(error as Error).message}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
      this.track(work);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' ? new PortInUseError(this.options.port) : error));
      server.listen(this.options.port, this.options.host ?? '127.0.0.1', () => {
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : this.options.port;
        this.url = `http://${this.options.host ?? '127.0.0.1'}:${port}`;
        resolve();
      });
    });
  }

  private authorised(fn: HttpFunction, url: URL, headers: http.IncomingHttpHeaders): boolean {
    if (fn.authLevel === 'anonymous') return true;
    const expected = this.options.functionKey;
    const given = (headers['x-functions-key'] as string | undefined) ?? url.searchParams.get('code') ?? '';
    if (!expected || !given) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const send = async (response: HttpResponse) => {
      const headers: Record<string, string> = {};
      response.headers.forEach((value, key) => (headers[key] = value));
      const body = Buffer.from(await response.arrayBuffer());
      res.writeHead(response.status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (!url.pathname.startsWith('/api/') && url.pathname !== '/api') {
      return send(new HttpResponse(problem(404, 'Not found', 'the management API lives under /api')));
    }
    const path = url.pathname.slice('/api'.length);
    const match = this.router.match(req.method ?? 'GET', path);
    if (!match) return send(new HttpResponse(problem(404, 'Not found', `no function serves ${url.pathname}`)));
    if ('allowed' in match) {
      const response = new HttpResponse(problem(405, 'Method not allowed', `${req.method} is not allowed on ${url.pathname}`));
      response.headers.set('allow', match.allowed.join(', '));
      return send(response);
    }
    if (!this.authorised(match.fn, url, req.headers)) {
      return send(new HttpResponse(problem(401, 'Unauthorized', 'this endpoint needs a function key (x-functions-key header or code query parameter)', { code: 'unauthorized' })));
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const request = new HttpRequest({
      method: req.method ?? 'GET',
      url: url.toString(),
      headers,
      query,
      params: match.params,
      body: chunks.length ? { bytes: Buffer.concat(chunks) } : undefined,
    });
    const context = this.context(match.fn.name, { params: match.params });
    const started = Date.now();
    let response: HttpResponse;
    try {
      response = new HttpResponse(await match.fn.handler(request, context));
    } catch (error) {
      this.log('error', `${match.fn.name}: unhandled ${(error as Error).message}`);
      response = new HttpResponse(problem(500, 'Internal error', 'the function failed'));
    }
    this.log('debug', `${req.method} ${url.pathname} → ${response.status} (${Date.now() - started} ms)`);
    await send(response);
  }

  // ---- timers ----

  private scheduleTimer(fn: TimerFunction): void {
    const schedule = parseNcrontab(resolveSettingPlaceholder(fn.schedule, this.options.env));
    let last = new Date();
    let running = false;
    const fire = async (isPastDue: boolean) => {
      if (running || this.stopping) return; // Functions timers are singletons: no overlap.
      running = true;
      const now = new Date();
      const timer: Timer = {
        isPastDue,
        schedule: { adjustForDST: false },
        scheduleStatus: { last: last.toISOString(), next: nextOccurrence(schedule, now).toISOString(), lastUpdated: now.toISOString() },
      };
      last = now;
      try {
        await fn.handler(timer, this.context(fn.name));
      } catch (error) {
        this.log('error', `${fn.name}: ${(error as Error).message}`);
      } finally {
        running = false;
      }
    };
    const arm = () => {
      if (this.stopping) return;
      const next = nextOccurrence(schedule, new Date());
      // setTimeout drifts by a few ms; the +5 lands us safely inside the due second.
      const handle = setTimeout(() => {
        this.track(fire(Date.now() - next.getTime() > 60_000));
        arm();
      }, Math.max(0, next.getTime() - Date.now() + 5));
      handle.unref?.();
      this.timers.push(handle);
    };
    if (fn.runOnStartup) this.track(fire(false));
    arm();
  }

  // ---- queues ----

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => undefined);
    return work;
  }

  private async pump(fn: QueueFunction): Promise<void> {
    const connection = this.options.storageConnectionString;
    if (!connection) throw new Error(`queue function ${fn.name} needs a storage connection string`);
    const service = QueueServiceClient.fromConnectionString(connection);
    const queue = service.getQueueClient(storageQueueOf(fn));
    // Dead letters have nowhere further to go: a failing dead-letter handler is retried later.
    const poison = fn.deadLetters ? null : service.getQueueClient(poisonQueueName(fn.queueName));
    await queue.createIfNotExists();
    await poison?.createIfNotExists();
    const opts = this.queueOptions;
    const threshold = opts.newBatchThreshold ?? Math.floor(opts.batchSize / 2);
    const wake = new PumpWake();
    this.wakes.set(queue.name, wake);
    const onSent = (queueName: string, visibleInMs: number) => queueName === queue.name && wake.at(visibleInMs);
    storageQueueSends.on('sent', onSent);
    let running = 0;
    try {
      while (!this.stopping) {
        // As the Functions queue trigger: fetch a new batch only once the running ones drop to the threshold.
        if (running > threshold) {
          await wake.sleep(opts.pollIntervalMs);
          continue;
        }
        wake.consume();
        let received;
        try {
          received = await queue.receiveMessages({ numberOfMessages: Math.min(32, opts.batchSize), visibilityTimeout: Math.ceil(opts.lockMs / 1000) });
        } catch (error) {
          if (this.stopping) break;
          this.log('warn', `${fn.name}: cannot read queue ${queue.name}: ${(error as Error).message}`);
          await sleep(1000);
          continue;
        }
        if (received.receivedMessageItems.length === 0) {
          await wake.sleep(opts.pollIntervalMs);
          continue;
        }
        for (const item of received.receivedMessageItems) {
          running++;
          void this.track(this.deliver(fn, queue, poison, item))
            .catch(() => undefined)
            .finally(() => {
              running--;
              wake.at(0);
            });
        }
      }
    } finally {
      storageQueueSends.off('sent', onSent);
      wake.stop();
    }
  }

  private async deliver(
    fn: QueueFunction,
    queue: QueueClient,
    poison: QueueClient | null,
    item: { messageId: string; popReceipt: string; messageText: string; dequeueCount: number; insertedOn: Date },
  ): Promise<void> {
    const opts = this.queueOptions;
    let popReceipt = item.popReceipt;
    let envelope;
    try {
      envelope = decodeEnvelope(item.messageText);
    } catch {
      envelope = { body: item.messageText };
    }
    if (envelope.messageId && item.dequeueCount === 1) {
      // Per queue, as on Service Bus: a dead letter keeps the message id of its original.
      const seenKey = `${queue.name}/${envelope.messageId}`;
      const seenAt = this.seenMessageIds.get(seenKey);
      if (seenAt !== undefined && Date.now() - seenAt < opts.duplicateDetectionWindowMs) {
        this.log('debug', `${fn.name}: duplicate message ${envelope.messageId} dropped`);
        await queue.deleteMessage(item.messageId, popReceipt).catch(() => undefined);
        return;
      }
      this.seenMessageIds.set(seenKey, Date.now());
    }
    const run = async () => {
      // Keep the message invisible while its handler runs, as a Service Bus lock renewal would.
      const renew = setInterval(() => {
        void queue
          .updateMessage(item.messageId, popReceipt, undefined, Math.ceil(opts.lockMs / 1000))
          .then((r) => (popReceipt = r.popReceipt ?? popReceipt))
          .catch(() => undefined);
      }, opts.lockMs / 2);
      const context = this.context(fn.name, {
        id: item.messageId,
        messageId: envelope.messageId ?? item.messageId,
        sessionId: envelope.sessionId,
        dequeueCount: item.dequeueCount,
        deliveryCount: item.dequeueCount,
        insertionTime: item.insertedOn?.toISOString?.(),
        ...(fn.deadLetters ? { deadLetterReason: envelope.deadLetterReason, deadLetterErrorDescription: envelope.deadLetterErrorDescription } : {}),
      });
      try {
        await fn.handler(envelope.body, context);
        clearInterval(renew);
        await queue.deleteMessage(item.messageId, popReceipt);
      } catch (error) {
        clearInterval(renew);
        const exhausted = item.dequeueCount >= opts.maxDequeueCount;
        const poisonNow = exhausted || (error as { poison?: boolean }).poison === true;
        if (poisonNow && poison) {
          this.log('warn', `${fn.name}: message ${item.messageId} moved to ${poison.name} after ${item.dequeueCount} deliveries: ${(error as Error).message}`);
          const deadLetterReason = exhausted ? 'MaxDeliveryCountExceeded' : 'PoisonMessage';
          await poison.sendMessage(encodeEnvelope({ ...envelope, deadLetterReason, deadLetterErrorDescription: (error as Error).message }), { messageTimeToLive: -1 });
          this.wakes.get(poison.name)?.at(0);
          await queue.deleteMessage(item.messageId, popReceipt).catch(() => undefined);
        } else if (exhausted) {
          this.log('error', `${fn.name}: dead letter ${item.messageId} still fails after ${item.dequeueCount} deliveries, retrying later: ${(error as Error).message}`);
          await queue.updateMessage(item.messageId, popReceipt, undefined, Math.ceil(opts.lockMs / 1000)).catch(() => undefined);
        } else {
          this.log('info', `${fn.name}: delivery ${item.dequeueCount} of message ${item.messageId} failed, will retry: ${(error as Error).message}`);
          await queue.updateMessage(item.messageId, popReceipt, undefined, Math.ceil(opts.retryDelayMs / 1000)).catch(() => undefined);
          this.wakes.get(queue.name)?.at(Math.ceil(opts.retryDelayMs / 1000) * 1000);
        }
      }
    };
    if (fn.sessions && envelope.sessionId) {
      // One message at a time per session, as Service Bus sessions guarantee.
      const previous = this.sessionChains.get(envelope.sessionId) ?? Promise.resolve();
      const next = previous.then(run, run);
      this.sessionChains.set(envelope.sessionId, next);
      await next;
      if (this.sessionChains.get(envelope.sessionId) === next) this.sessionChains.delete(envelope.sessionId);
    } else {
      await run();
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Storage queue visibility has whole seconds, and Azurite's clock its own rounding: look again a little after. */
const VISIBILITY_SLACK_MS = 30;

/**
 * When a pump looks at its queue again: after its poll interval, or at once when a message is
 * sent to it in this process (or a running delivery ends), or when a delayed message becomes
 * visible. A wake that comes while the pump is busy is kept, so none is lost.
 */
class PumpWake {
  private pending = false;
  private stopped = false;
  private resolve?: () => void;
  private readonly timers = new Set<NodeJS.Timeout>();

  /** Wake in `delayMs` (0 = now). */
  at(delayMs: number): void {
    if (delayMs <= 0) return this.fire();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.fire();
    }, delayMs + VISIBILITY_SLACK_MS);
    timer.unref?.();
    this.timers.add(timer);
  }

  /** Clears a kept wake before the pump looks at the queue. */
  consume(): void {
    this.pending = false;
  }

  sleep(maxMs: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, maxMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.resolve = undefined;
        self.pending = false;
        resolve();
      }
      this.resolve = done;
    });
  }

  stop(): void {
    this.stopped = true;
    this.timers.forEach(clearTimeout);
    this.timers.clear();
    this.fire();
  }

  private fire(): void {
    this.pending = true;
    this.resolve?.();
  }
}
