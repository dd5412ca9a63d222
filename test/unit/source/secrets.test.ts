import { createSecrets, EnvSecrets, KeyVaultSecrets, type SecretClientLike } from '../../../src/adapters/secrets';
import { isSyncError } from '../../../src/core/errors';

/** Source credentials come through these adapters; Key Vault itself has no emulator, so its client is a fake. */

function fakeClient(values: Record<string, string | undefined>) {
  const calls = { get: [] as string[], set: [] as Array<[string, string]> };
  let failWith: unknown = null;
  const client: SecretClientLike = {
    async getSecret(name) {
      calls.get.push(name);
      if (failWith) throw failWith;
      if (!(name in values)) throw Object.assign(new Error(`A secret with (name/id) ${name} was not found in this key vault`), { statusCode: 404 });
      return { value: values[name] };
    },
    async setSecret(name, value) {
      calls.set.push([name, value]);
      values[name] = value;
      return { name };
    },
  };
  return { client, calls, fail: (e: unknown) => (failWith = e) };
}

describe('Key Vault secrets (Key Vault mocked: no emulator)', () => {
  it('serves a secret from its cache until the TTL passes, then asks Key Vault again', async () => {
    let now = 1_000;
    const fake = fakeClient({ 'pg-password': 'one' });
    const secrets = new KeyVaultSecrets('https://vault.example', { client: fake.client, ttlMs: 60_000, now: () => now });
    expect(await secrets.get('pg-password')).toBe('one');
    expect(await secrets.get('pg-password')).toBe('one');
    expect(fake.calls.get).toHaveLength(1);
    await fake.client.setSecret('pg-password', 'two'); // rotated in the vault
    now += 59_999;
    expect(await secrets.get('pg-password')).toBe('one');
    now += 2;
    expect(await secrets.get('pg-password')).toBe('two');
    expect(fake.calls.get).toHaveLength(2);
  });

  it('defaults to a five-minute TTL', async () => {
    let now = 0;
    const fake = fakeClient({ s: 'v' });
    const secrets = new KeyVaultSecrets('https://vault.example', { client: fake.client, now: () => now });
    await secrets.get('s');
    now = 5 * 60_000 - 1;
    await secrets.get('s');
    expect(fake.calls.get).toHaveLength(1);
    now = 5 * 60_000 + 1;
    await secrets.get('s');
    expect(fake.calls.get).toHaveLength(2);
  });

  it('concurrent reads of one secret make one Key Vault call', async () => {
    const fake = fakeClient({ s: 'v' });
    const secrets = new KeyVaultSecrets('https://vault.example', { client: fake.client });
    expect(await Promise.all([secrets.get('s'), secrets.get('s'), secrets.get('s')])).toEqual(['v', 'v', 'v']);
    expect(fake.calls.get).toHaveLength(1);
  });

  it('a missing secret is a config error naming the reference, and is not cached', async () => {
    const fake = fakeClient({});
    const secrets = new KeyVaultSecrets('https://vault.example', { client: fake.client });
    await expect(secrets.get('absent-secret')).rejects.toMatchObject({ code: 'secret_missing', errorClass: 'config', message: expect.stringContaining('absent-secret') });
    await expect(secrets.get('absent-secret')).rejects.toMatchObject({ code: 'secret_missing' });
    expect(fake.calls.get).toHaveLength(2);
  });

  it('a disabled secret (no value) counts as missing', async () => {
    const secrets = new KeyVaultSecrets('https://vault.example', { client: fakeClient({ off: undefined }).client });
    await expect(secrets.get('off')).rejects.toMatchObject({ code: 'secret_missing' });
  });

  it('forbidden is a config error (grant the role); throttling and outages are transient', async () => {
    const fake = fakeClient({ s: 'v' });
    const secrets = new KeyVaultSecrets('https://vault.example', { client: fake.client });
    fake.fail(Object.assign(new Error('Forbidden'), { statusCode: 403 }));
    await expect(secrets.get('s')).rejects.toMatchObject({ code: 'secret_forbidden', errorClass: 'config' });
    fake.fail(Object.assign(new Error('Too many requests'), { statusCode: 429 }));
    await expect(secrets.get('s')).rejects.toMatchObject({ code: 'secret_unavailable', errorClass: 'transient' });
    fake.fail(new Error('socket hang up'));
    await expect(secrets.get('s')).rejects.toMatchObject({ errorClass: 'transient' });
  });

  it('set writes the secret, returns its name and serves it from the cache afterwards', async () => {
    const fake = fakeClient({});
    const secrets = new KeyVaultSecrets('https://vault.example', { client: fake.client });
    expect(await secrets.set('new-secret', 'p4ss')).toBe('new-secret');
    expect(fake.calls.set).toEqual([['new-secret', 'p4ss']]);
    expect(await secrets.get('new-secret')).toBe('p4ss');
    expect(fake.calls.get).toHaveLength(0);
  });

  it('refuses a reference that is not a Key Vault secret name before calling Key Vault', async () => {
    const fake = fakeClient({});
    const secrets = new KeyVaultSecrets('https://vault.example', { client: fake.client });
    await expect(secrets.get('../keys/x')).rejects.toMatchObject({ code: 'invalid_secret_ref', errorClass: 'config' });
    await expect(secrets.set('has space', 'v')).rejects.toMatchObject({ code: 'invalid_secret_ref' });
    expect(fake.calls.get).toHaveLength(0);
  });

  it('no error message ever carries a secret value', async () => {
    const fake = fakeClient({ s: 'Sup3r-S3cret' });
    const secrets = new KeyVaultSecrets('https://vault.example', { client: fake.client });
    await secrets.get('s');
    secrets.invalidate('s');
    fake.fail(Object.assign(new Error('boom'), { statusCode: 500 }));
    const err = await secrets.get('s').catch((e: unknown) => e);
    expect(isSyncError(err)).toBe(true);
    expect(JSON.stringify({ m: (err as Error).message, d: (err as { details: unknown }).details })).not.toContain('Sup3r-S3cret');
  });
});

describe('environment secrets (local)', () => {
  it('maps a reference to SECRET_<UPPER_SNAKE> settings', async () => {
    expect(EnvSecrets.settingName('pg-password')).toBe('SECRET_PG_PASSWORD');
    const secrets = new EnvSecrets({ SECRET_PG_PASSWORD: 'local', SECRET_TRUST: '' });
    expect(await secrets.get('pg-password')).toBe('local');
    expect(await secrets.get('trust')).toBe(''); // an empty password is a value (trust authentication)
  });

  it('a missing setting is a config error naming the reference and the setting, never a value', async () => {
    const err = await new EnvSecrets({ SECRET_OTHER: 'x' }).get('pg-password').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'secret_missing', errorClass: 'config' });
    expect((err as Error).message).toContain('pg-password');
    expect((err as Error).message).toContain('SECRET_PG_PASSWORD');
  });

  it('set keeps the value in memory and returns the reference', async () => {
    const env: NodeJS.ProcessEnv = {};
    const secrets = new EnvSecrets(env);
    expect(await secrets.set('written-here', 'v1')).toBe('written-here');
    expect(await secrets.get('written-here')).toBe('v1');
    expect(env).toEqual({}); // nothing written to the environment
  });

  it('createSecrets picks Key Vault when a vault URI is configured, the environment otherwise', () => {
    expect(createSecrets({})).toBeInstanceOf(EnvSecrets);
    expect(createSecrets({ keyVaultUri: 'https://vault.example', credential: { getToken: async () => null } })).toBeInstanceOf(KeyVaultSecrets);
  });
});
