import type { TokenCredential } from '@azure/identity';
import { DefaultAzureCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { configError, transientError } from '../../core/errors';
import type { Secrets } from '../../core/ports/secrets';
import { checkSecretName, SECRETS_MODULE, secretMissing } from './errors';

/** The two SecretClient calls used here; tests substitute a fake (no Key Vault emulator exists). */
export interface SecretClientLike {
  getSecret(name: string): Promise<{ value?: string }>;
  setSecret(name: string, value: string): Promise<{ name: string }>;
}

export interface KeyVaultSecretsOptions {
  /** How long a value is reused before Key Vault is asked again (default 5 min): rotation shows up within it. */
  ttlMs?: number;
  credential?: TokenCredential;
  client?: SecretClientLike;
  now?: () => number;
}

export const DEFAULT_SECRET_TTL_MS = 5 * 60_000;

/**
 * Key Vault secrets with a small in-process cache. Cached so that every run of every
 * definition does not cost a Key Vault call (Key Vault throttles per vault); concurrent reads
 * of one secret share one request. Values are never logged and never part of an error.
 */
export class KeyVaultSecrets implements Secrets {
  private readonly client: SecretClientLike;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, { value: string; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(vaultUri: string, options: KeyVaultSecretsOptions = {}) {
    this.client = options.client ?? new SecretClient(vaultUri, options.credential ?? new DefaultAzureCredential());
    this.ttlMs = options.ttlMs ?? DEFAULT_SECRET_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  async get(secretRef: string): Promise<string> {
    checkSecretName(secretRef);
    const hit = this.cache.get(secretRef);
    if (hit && hit.expiresAt > this.now()) return hit.value;
    const pending = this.inflight.get(secretRef);
    if (pending) return pending;
    const fetch = this.fetch(secretRef).finally(() => this.inflight.delete(secretRef));
    this.inflight.set(secretRef, fetch);
    return fetch;
  }

  private async fetch(secretRef: string): Promise<string> {
    let value: string | undefined;
    try {
      value = (await this.client.getSecret(secretRef)).value;
    } catch (error) {
      throw mapKeyVaultError(error, secretRef, 'reading');
    }
    // a disabled secret, or one without a value, is as good as missing
    if (value === undefined) throw secretMissing(secretRef, 'Key Vault returned no value');
    this.cache.set(secretRef, { value, expiresAt: this.now() + this.ttlMs });
    return value;
  }

  async set(name: string, value: string): Promise<string> {
    checkSecretName(name);
    try {
      await this.client.setSecret(name, value);
    } catch (error) {
      throw mapKeyVaultError(error, name, 'writing');
    }
    this.cache.set(name, { value, expiresAt: this.now() + this.ttlMs });
    return name;
  }

  /** Forgets cached values (all, or one), e.g. after an authentication failure suggests a rotated password. */
  invalidate(secretRef?: string): void {
    if (secretRef === undefined) this.cache.clear();
    else this.cache.delete(secretRef);
  }
}

function statusOf(error: unknown): number | undefined {
  const s = typeof error === 'object' && error !== null ? (error as { statusCode?: unknown }).statusCode : undefined;
  return typeof s === 'number' ? s : undefined;
}

/** The SDK's messages can quote request details but never secret values; still, only the status and reference are reported. */
function mapKeyVaultError(error: unknown, secretRef: string, action: 'reading' | 'writing') {
  const status = statusOf(error);
  if (status === 404) return secretMissing(secretRef, 'no such secret in Key Vault');
  if (status === 401 || status === 403) {
    return configError(SECRETS_MODULE, 'secret_forbidden', `${action} secret '${secretRef}' was refused by Key Vault (${status}): grant the app's identity the Key Vault Secrets User (or Officer, to write) role`, {
      status: 403,
    });
  }
  if (status === 400) return configError(SECRETS_MODULE, 'invalid_secret_ref', `Key Vault refused secret name '${secretRef}'`);
  return transientError(SECRETS_MODULE, 'secret_unavailable', `${action} secret '${secretRef}' failed${status ? ` (${status})` : ''}; will retry`, {
    retryAfterMs: status === 429 ? 5_000 : undefined,
  });
}
