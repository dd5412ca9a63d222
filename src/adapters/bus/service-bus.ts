import { ServiceBusClient, type ServiceBusMessage, type ServiceBusSender } from '@azure/service-bus';
import type { TokenCredential } from '@azure/identity';
import { transientError } from '../../core/errors';
import type { MessageBus, OutgoingMessage, QueueName } from '../../core/ports/bus';

/**
 * Production send side: Service Bus. `messageId` feeds duplicate detection (a re-fired timer or
 * a retried send does not enqueue twice), `sessionId` serialises runs per definition.
 * Receiving is the Functions runtime's Service Bus trigger.
 */
export class ServiceBusBus implements MessageBus {
  private readonly client: ServiceBusClient;
  private readonly senders = new Map<string, ServiceBusSender>();

  constructor(opts: { connectionString: string } | { fullyQualifiedNamespace: string; credential: TokenCredential }) {
    this.client = 'connectionString' in opts ? new ServiceBusClient(opts.connectionString) : new ServiceBusClient(opts.fullyQualifiedNamespace, opts.credential);
  }

  private sender(queue: string): ServiceBusSender {
    let sender = this.senders.get(queue);
    if (!sender) {
      sender = this.client.createSender(queue);
      this.senders.set(queue, sender);
    }
    return sender;
  }

  static toServiceBusMessage(m: OutgoingMessage): ServiceBusMessage {
    return {
      body: m.body,
      contentType: 'application/json',
      ...(m.messageId ? { messageId: m.messageId } : {}),
      ...(m.sessionId ? { sessionId: m.sessionId } : {}),
      ...(m.scheduledAt ? { scheduledEnqueueTimeUtc: m.scheduledAt } : {}),
    };
  }

  async send(queue: QueueName, messages: OutgoingMessage[]): Promise<void> {
    const sender = this.sender(queue);
    try {
      let batch = await sender.createMessageBatch();
      for (const message of messages.map(ServiceBusBus.toServiceBusMessage)) {
        if (batch.tryAddMessage(message)) continue;
        if (batch.count === 0) throw new Error(`a message for ${queue} is larger than the namespace allows (${batch.maxSizeInBytes} bytes)`);
        await sender.sendMessages(batch);
        batch = await sender.createMessageBatch();
        if (!batch.tryAddMessage(message)) throw new Error(`a message for ${queue} is larger than the namespace allows (${batch.maxSizeInBytes} bytes)`);
      }
      if (batch.count > 0) await sender.sendMessages(batch);
    } catch (error) {
      throw transientError('bus', 'send_failed', `could not send to Service Bus queue ${queue}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Opening a sender link proves the namespace answers and our identity may send. */
  async ping(): Promise<void> {
    await this.sender('sync-runs').createMessageBatch();
  }

  async close(): Promise<void> {
    await Promise.all([...this.senders.values()].map((s) => s.close()));
    await this.client.close();
  }
}
