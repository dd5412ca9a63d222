import { EventEmitter } from 'node:events';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { transientError } from '../../core/errors';
import type { MessageBus, OutgoingMessage, QueueName } from '../../core/ports/bus';

/**
 * The local transport: Azure Storage queues (Azurite), pumped by the local host. Messages are
 * JSON envelopes, base64-encoded as the Functions queue trigger expects by default, carrying
 * the Service Bus properties (message id, session id) so the local pump can honour them.
 */
export interface QueueEnvelope {
  body: unknown;
  messageId?: string;
  sessionId?: string;
  /** Set by the local host when it poisons a message, as Service Bus records a dead letter's reason. */
  deadLetterReason?: string;
  deadLetterErrorDescription?: string;
}

export function encodeEnvelope(envelope: QueueEnvelope): string {
  return Buffer.from(JSON.stringify(envelope), 'utf8').toString('base64');
}

export function decodeEnvelope(text: string): QueueEnvelope {
  const raw = /^[A-Za-z0-9+/=\s]+$/.test(text) ? Buffer.from(text, 'base64').toString('utf8') : text;
  const parsed = JSON.parse(raw) as unknown;
  if (parsed && typeof parsed === 'object' && 'body' in parsed) return parsed as QueueEnvelope;
  return { body: parsed };
}

/** Storage queues cap a message at 64 KiB (base64 included). */
export const STORAGE_QUEUE_MAX_BYTES = 64 * 1024;

/** Storage queues refuse a visibility timeout beyond 7 days. */
export const STORAGE_QUEUE_MAX_DELAY_SECONDS = 7 * 24 * 3600;

/** Seconds a message scheduled for `scheduledAt` stays invisible: never negative, never beyond the queue's cap. */
export function visibilityDelaySeconds(scheduledAt: Date | undefined, nowMs: number): number {
  if (!scheduledAt) return 0;
  return Math.min(STORAGE_QUEUE_MAX_DELAY_SECONDS, Math.max(0, Math.ceil((scheduledAt.getTime() - nowMs) / 1000)));
}

/**
 * In-process notice of every message sent (queue name, ms until it is visible), so a local host
 * pump in the same process wakes when a message is sent instead of waiting for its next poll,
 * as a Service Bus trigger is pushed its messages. A message from another process is still
 * found by the pump's poll.
 */
export const storageQueueSends = new EventEmitter().setMaxListeners(0);

export class StorageQueueBus implements MessageBus {
  private readonly service: QueueServiceClient;
  private readonly ready = new Map<string, Promise<QueueClient>>();

  constructor(connectionString: string) {
    this.service = QueueServiceClient.fromConnectionString(connectionString);
  }

  queue(name: string): Promise<QueueClient> {
    let client = this.ready.get(name);
    if (!client) {
      const queue = this.service.getQueueClient(name);
      client = queue.createIfNotExists().then(() => queue);
      client.catch(() => this.ready.delete(name));
      this.ready.set(name, client);
    }
    return client;
  }

  async send(queueName: QueueName, messages: OutgoingMessage[]): Promise<void> {
    const queue = await this.queue(queueName);
    try {
      await Promise.all(
        messages.map((m) => {
          const text = encodeEnvelope({ body: m.body, messageId: m.messageId, sessionId: m.sessionId });
          const delaySeconds = visibilityDelaySeconds(m.scheduledAt, Date.now());
          return queue.sendMessage(text, { visibilityTimeout: delaySeconds, messageTimeToLive: -1 }).then(() => storageQueueSends.emit('sent', queueName, delaySeconds * 1000));
        }),
      );
    } catch (error) {
      throw transientError('bus', 'send_failed', `could not send to queue ${queueName}: ${(error as Error).message}`, { cause: error });
    }
  }

  async ping(): Promise<void> {
    await this.service.getProperties();
  }

  async close(): Promise<void> {}
}
