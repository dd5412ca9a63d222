import { configError, type SyncError } from '../../core/errors';

export const SECRETS_MODULE = 'secrets';

/** Key Vault secret names: 1–127 letters, digits and "-" (the same rule the definitions use for `secretRef`). */
const SECRET_NAME = /^[A-Za-z0-9-]{1,127}$/;

export function checkSecretName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !SECRET_NAME.test(name)) {
    throw configError(SECRETS_MODULE, 'invalid_secret_ref', 'a secret reference is 1–127 letters, digits and "-"', {
      details: [{ path: 'secretRef', message: 'letters, digits and "-" only, at most 127', code: 'invalid_secret_ref' }],
    });
  }
}

/** Names the reference, never a value. */
export function secretMissing(secretRef: string, hint: string): SyncError {
  return configError(SECRETS_MODULE, 'secret_missing', `secret '${secretRef}' was not found (${hint})`, {
    status: 422,
    details: [{ path: 'secretRef', message: `secret '${secretRef}' was not found`, code: 'secret_missing' }],
  });
}
