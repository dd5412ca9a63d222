/** Structured logging as the core sees it; hosts adapt it to InvocationContext. */
export interface Logger {
  debug(message: string, props?: Record<string, unknown>): void;
  info(message: string, props?: Record<string, unknown>): void;
  warn(message: string, props?: Record<string, unknown>): void;
  error(message: string, props?: Record<string, unknown>): void;
}

const SECRET_KEY = /pass(word)?|secret|token|key|credential|connectionstring|authorization|pwd/i;
const SECRET_IN_TEXT = /((?:password|pwd|accountkey|sharedaccesskey|secret|token)\s*[=:]\s*)([^;\s&"']+)/gi;
const URL_PASSWORD = /(\w+:\/\/[^:/@\s]+:)([^@\s]+)(@)/g;

/** Removes secrets from log properties: keys that name secrets, and secrets embedded in text. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[deep]';
  if (typeof value === 'string') return value.replace(SECRET_IN_TEXT, '$1***').replace(URL_PASSWORD, '$1***$3');
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    if (value instanceof Error) return redact(value.message, depth + 1);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // Reference fields (secretRef) name a secret, they are not one.
      out[k] = SECRET_KEY.test(k) && !/ref$/i.test(k) ? '***' : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
