import { ServiceBusBus } from '../../../src/adapters/bus/service-bus';
import { STORAGE_QUEUE_MAX_DELAY_SECONDS, visibilityDelaySeconds } from '../../../src/adapters/bus/storage-queue-bus';

/** A message scheduled for later is delivered no earlier than asked, on both transports. */
describe('scheduledAt on outgoing messages', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('Service Bus gets it as the scheduled enqueue time', () => {
    const at = new Date(now + 90_000);
    expect(ServiceBusBus.toServiceBusMessage({ body: { a: 1 }, messageId: 'b~d1', scheduledAt: at })).toMatchObject({ messageId: 'b~d1', scheduledEnqueueTimeUtc: at });
    expect(ServiceBusBus.toServiceBusMessage({ body: {} })).not.toHaveProperty('scheduledEnqueueTimeUtc');
  });

  it('Storage queues get it as a visibility delay in whole seconds, never negative, capped at 7 days', () => {
    expect(visibilityDelaySeconds(undefined, now)).toBe(0);
    expect(visibilityDelaySeconds(new Date(now + 1500), now)).toBe(2);
    expect(visibilityDelaySeconds(new Date(now - 5000), now)).toBe(0);
    expect(visibilityDelaySeconds(new Date(now + 30 * 24 * 3600_000), now)).toBe(STORAGE_QUEUE_MAX_DELAY_SECONDS);
    expect(STORAGE_QUEUE_MAX_DELAY_SECONDS).toBe(7 * 24 * 3600);
  });
});
