/** The queues of the pipeline (DESIGN §2). Names are shared by code, settings and Bicep. */
export const QUEUES = {
  runs: 'sync-runs',
  writes: 'sync-writes',
  moves: 'sync-moves',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export interface OutgoingMessage {
  body: unknown;
  /** Service Bus duplicate detection key; the storage-queue adapter ignores it. */
  messageId?: string;
  /** Service Bus session (definition id on `sync-runs`). */
  sessionId?: string;
  /**
   * Deliver no earlier than this: Service Bus scheduled enqueue time; on Storage queues a
   * visibility delay (capped at the queue's 7-day maximum).
   */
  scheduledAt?: Date;
}

/** Send side of the message transport. Receiving is the Functions host's (or local host's) job. */
export interface MessageBus {
  send(queue: QueueName, messages: OutgoingMessage[]): Promise<void>;
  /** Reachability probe for /health. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
