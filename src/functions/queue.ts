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

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
