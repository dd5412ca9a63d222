import type { TokenCredential } from '@azure/identity';
import type { Secrets } from '../../core/ports/secrets';
import { EnvSecrets } from './env';
import { KeyVaultSecrets } from './keyvault';

export { EnvSecrets } from './env';
export { KeyVaultSecrets, DEFAULT_SECRET_TTL_MS, type KeyVaultSecretsOptions, type SecretClientLike } from './keyvault';

export interface SecretsSettings {
  /** KEY_VAULT_URI: Key Vault in Azure; absent = environment / local settings. */
  keyVaultUri?: string;
  credential?: TokenCredential;
  ttlMs?: number;
}

export function createSecrets(settings: SecretsSettings): Secrets {
  if (settings.keyVaultUri) return new KeyVaultSecrets(settings.keyVaultUri, { credential: settings.credential, ttlMs: settings.ttlMs });
  return new EnvSecrets();
}
