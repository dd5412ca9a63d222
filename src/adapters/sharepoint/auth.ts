import type { AccessToken, TokenCredential } from '@azure/identity';
import { ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import type { SharePointConnection } from '../../core/definitions';
import { configError, transientError } from '../../core/errors';
import type { Secrets } from '../../core/ports/secrets';

const MODULE = 'sharepoint.auth';

/** What the Graph middleware needs: a bearer token, fresh enough to use now. */
export interface AccessTokenSource {
  getAccessToken(): Promise<string>;
}

/** The emulator accepts any non-empty bearer token; production never takes this path. */
export function staticTokenSource(token: string): AccessTokenSource {
  if (!token) throw configError(MODULE, 'graph_static_token_empty', 'GRAPH_STATIC_TOKEN is empty');
  return { getAccessToken: async () => token };
}

/** `https://graph.microsoft.com/.default`, or the national cloud's equivalent for its base URL. */
export function graphScope(baseUrl: string): string {
  return `${new URL(baseUrl).origin}/.default`;
}

/**
 * Wraps an Entra ID credential. Tokens are reused until five minutes before they expire: the
 * credentials cache too, but a token per request would still cost a lock and a clock read in
 * MSAL, and one shared in-flight refresh keeps a burst of requests from asking twenty times.
 */
export function credentialTokenSource(credential: TokenCredential, scope: string, now: () => number = Date.now): AccessTokenSource {
  let cached: AccessToken | null = null;
  let refreshing: Promise<AccessToken> | null = null;
  const refresh = async (): Promise<AccessToken> => {
    try {
      const token = await credential.getToken(scope);
      if (!token) throw configError(MODULE, 'graph_token_unavailable', 'the credential returned no token for Microsoft Graph');
      return token;
    } catch (error) {
      throw mapCredentialError(error);
    }
  };
  return {
    async getAccessToken() {
      if (cached && cached.expiresOnTimestamp - now() > 5 * 60_000) return cached.token;
      refreshing ??= refresh().finally(() => (refreshing = null));
      cached = await refreshing;
      return cached.token;
    },
  };
}

/** Builds the credential a SharePoint connection names; secrets are read through the Secrets port, never stored. */
export async function credentialFor(conn: SharePointConnection, secrets: Secrets): Promise<TokenCredential> {
  switch (conn.auth.kind) {
    case 'managedIdentity':
      // The connection's clientId is the user-assigned identity's client id.
      return new ManagedIdentityCredential({ clientId: conn.clientId });
    case 'clientSecret': {
      const secret = await readSecret(secrets, conn.auth.secretRef);
      return new ClientSecretCredential(conn.tenantId, conn.clientId, secret);
    }
    case 'certificate': {
      const pem = await readSecret(secrets, conn.auth.secretRef);
      if (!pem.includes('-----BEGIN')) {
        throw configError(MODULE, 'certificate_not_pem', `secret '${conn.auth.secretRef}' must hold a PEM certificate with its private key`);
      }
      return new ClientCertificateCredential(conn.tenantId, conn.clientId, { certificate: pem });
    }
  }
}

/**
 * The token source for a connection: a static token when one is configured (emulator), else the
 * connection's Entra ID credential for the Graph host at `baseUrl`.
 */
export async function tokenSourceFor(
  conn: SharePointConnection,
  secrets: Secrets,
  settings: { baseUrl: string; staticToken?: string },
): Promise<AccessTokenSource> {
  if (settings.staticToken) return staticTokenSource(settings.staticToken);
  return credentialTokenSource(await credentialFor(conn, secrets), graphScope(settings.baseUrl));
}

async function readSecret(secrets: Secrets, ref: string): Promise<string> {
  const value = await secrets.get(ref);
  if (!value) throw configError(MODULE, 'secret_empty', `secret '${ref}' is empty`);
  return value;
}

/**
 * Entra ID refusals (bad secret, unknown client, missing consent) are the admin's to fix; an
 * identity endpoint that cannot be reached is worth retrying.
 */
function mapCredentialError(error: unknown): Error {
  if (error instanceof Error && 'errorClass' in error) return error;
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  const status = typeof (error as { statusCode?: unknown })?.statusCode === 'number' ? (error as { statusCode: number }).statusCode : undefined;
  if (name === 'AuthenticationError' && status !== undefined && status >= 400 && status < 500) {
    return configError(MODULE, 'graph_auth_failed', `Entra ID refused the credential: ${firstLine(message)}`, { status: 401, cause: error });
  }
  if (name === 'CredentialUnavailableError') {
    return configError(MODULE, 'graph_credential_unavailable', `the credential is not available here: ${firstLine(message)}`, { cause: error });
  }
  return transientError(MODULE, 'graph_token_failed', `could not get a token for Microsoft Graph: ${firstLine(message)}`, { cause: error });
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.slice(0, 300);
}
