import type { InvocationContext } from '@azure/functions';
import { redact, type Logger } from '../core/ports/logger';

/** A Logger that writes structured, redacted entries through the invocation's context. */
export function contextLogger(context: InvocationContext): Logger {
  const write = (level: 'debug' | 'info' | 'warn' | 'error', message: string, props?: Record<string, unknown>) => {
    const text = redact(message) as string;
    if (props) context[level](text, redact(props));
    else context[level](text);
  };
  return {
    debug: (m, p) => write('debug', m, p),
    info: (m, p) => write('info', m, p),
    warn: (m, p) => write('warn', m, p),
    error: (m, p) => write('error', m, p),
  };
}
