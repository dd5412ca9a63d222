import type { InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import { describe, isSyncError } from '../core/errors';
import { contextLogger } from '../runtime/context-logger';

/** Marks an error that must dead-letter at once instead of being retried. */
export class PoisonMessageError extends Error {
  readonly poison = true;
}

/**
 * The edge of every queue handler: validate the message with its zod contract (a malformed
 * message is dead-lettered with its reason, never retried forever), run the use case, and
 * rethrow transient failures so the host redelivers. A `config` failure (the admin must fix
 * something) is dead-lettered too: retrying cannot help.
 */
export function queueHandler<S extends z.ZodType>(schema: S, run: (message: z.output<S>, context: InvocationContext) => Promise<void>) {
  return async (raw: unknown, context: InvocationContext): Promise<void> => {
    const log = contextLogger(context);
    const body = typeof raw === 'string' ? safeJson(raw) : raw;
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const reason = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      log.error('malformed message dead-lettered', { reason });
      throw new PoisonMessageError(`malformed message: ${reason}`);
    }
    try {
      await run(parsed.data, context);
    } catch (error) {
      if (isSyncError(error) && error.errorClass === 'config') {
        log.error('message dead-lettered: needs an admin', { code: error.code, error: error.message });
        throw new PoisonMessageError(`${error.code}: ${error.message}`);
      }
      log.warn('message failed; the host will redeliver it', { error: describe(error), deliveryCount: context.triggerMetadata?.deliveryCount });
      throw error;
    }
  };
}

/**
 * The edge of a dead-letter handler: the message failed for good, so what is left is to settle
 * it in its run. `why` carries the dead-letter reason from the trigger metadata. A message that
 * does not parse cannot be settled: it is logged and completed (its run is ended by the reaper).
 */
export function deadLetterHandler<S extends z.ZodType>(schema: S, run: (message: z.output<S>, why: { reason?: string; description?: string }, context: InvocationContext) => Promise<void>) {
  return async (raw: unknown, context: InvocationContext): Promise<void> => {
    const log = contextLogger(context);
    const parsed = schema.safeParse(typeof raw === 'string' ? safeJson(raw) : raw);
    if (!parsed.success) {
      log.error('a malformed dead letter was dropped', { reason: parsed.error.issues.map((i) => i.message).join('; ') });
      return;
    }
    const metadata = context.triggerMetadata ?? {};
    const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
    await run(parsed.data, { reason: text(metadata.deadLetterReason), description: text(metadata.deadLetterErrorDescription) }, context);
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
