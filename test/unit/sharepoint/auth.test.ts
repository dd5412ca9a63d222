import { ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { credentialFor, credentialTokenSource, graphScope, tokenSourceFor } from '../../../src/adapters/sharepoint/auth';
import type { SharePointConnection } from '../../../src/core/definitions';
import { isSyncError } from '../../../src/core/errors';

const conn = (auth: SharePointConnection['auth']): SharePointConnection => ({ id: 'sp', tenantId: 't', clientId: 'c', auth });
const secrets = (values: Record<string, string>) => ({ get: jest.fn(async (ref: string) => values[ref] ?? ''), set: async (n: string) => n });

describe('Graph credentials', () => {
  it('builds the credential the connection names, reading secrets only through the Secrets port', async () => {
    const s = secrets({ 'sp-secret': 'shh', 'sp-cert': '-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----' });
    expect(await credentialFor(conn({ kind: 'managedIdentity' }), s)).toBeInstanceOf(ManagedIdentityCredential);
    expect(await credentialFor(conn({ kind: 'clientSecret', secretRef: 'sp-secret' }), s)).toBeInstanceOf(ClientSecretCredential);
    expect(await credentialFor(conn({ kind: 'certificate', secretRef: 'sp-cert' }), s)).toBeInstanceOf(ClientCertificateCredential);
    expect(s.get.mock.calls.map((c) => c[0])).toEqual(['sp-secret', 'sp-cert']);
  });

  it('an empty secret or a certificate that is not PEM is a config error', async () => {
    await expect(credentialFor(conn({ kind: 'clientSecret', secretRef: 'missing' }), secrets({}))).rejects.toMatchObject({ code: 'secret_empty', errorClass: 'config' });
    await expect(credentialFor(conn({ kind: 'certificate', secretRef: 'pfx' }), secrets({ pfx: 'MIIKcQIBAz...' }))).rejects.toMatchObject({
      code: 'certificate_not_pem',
      errorClass: 'config',
    });
  });

  it('a static token (emulator) bypasses Entra ID entirely', async () => {
    const s = secrets({});
    const source = await tokenSourceFor(conn({ kind: 'clientSecret', secretRef: 'x' }), s, { baseUrl: 'http://127.0.0.1:7072', staticToken: 'emu' });
    expect(await source.getAccessToken()).toBe('emu');
    expect(s.get).not.toHaveBeenCalled();
  });

  it('asks for the .default scope of the Graph host in use (national clouds included)', () => {
    expect(graphScope('https://graph.microsoft.com')).toBe('https://graph.microsoft.com/.default');
    expect(graphScope('https://graph.microsoft.us/v1.0')).toBe('https://graph.microsoft.us/.default');
  });

  it('reuses a token until five minutes before it expires, with one refresh for concurrent callers', async () => {
    let now = 0;
    let issued = 0;
    const credential: TokenCredential = {
      getToken: jest.fn(async () => ({ token: `t${++issued}`, expiresOnTimestamp: now + 60 * 60_000 })),
    };
    const source = credentialTokenSource(credential, 'scope', () => now);
    expect(await Promise.all([source.getAccessToken(), source.getAccessToken()])).toEqual(['t1', 't1']);
    now += 54 * 60_000;
    expect(await source.getAccessToken()).toBe('t1');
    now += 2 * 60_000;
    expect(await source.getAccessToken()).toBe('t2');
    expect(credential.getToken).toHaveBeenCalledTimes(2);
  });

  it('Entra ID refusing the credential is a config error; an unreachable identity endpoint is transient', async () => {
    const refusing: TokenCredential = {
      getToken: async () => {
        throw Object.assign(new Error('AADSTS7000215: Invalid client secret provided.'), { name: 'AuthenticationError', statusCode: 401 });
      },
    };
    const flaky: TokenCredential = {
      getToken: async () => {
        throw new Error('connect ETIMEDOUT 169.254.169.254:80');
      },
    };
    const refused = await credentialTokenSource(refusing, 's').getAccessToken().catch((e: unknown) => e);
    expect(isSyncError(refused, 'graph_auth_failed')).toBe(true);
    expect((refused as { errorClass: string }).errorClass).toBe('config');
    const timedOut = await credentialTokenSource(flaky, 's').getAccessToken().catch((e: unknown) => e);
    expect((timedOut as { errorClass: string }).errorClass).toBe('transient');
  });
});
