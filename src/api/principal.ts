import type { HttpRequest } from '@azure/functions';
import { SyncError } from '../core/errors';

/**
 * Entra ID app roles, when App Service Authentication fronts the API. The platform validates
 * the token and passes the caller as `x-ms-client-principal` (base64 JSON with its claims);
 * we only read the roles. Reads need `Sync.Read` or `Sync.Admin`; changes need `Sync.Admin`.
 */
export const ROLES = { admin: 'Sync.Admin', read: 'Sync.Read' } as const;

const ROLE_CLAIMS = new Set(['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role']);

interface ClientPrincipal {
  role_typ?: string;
  claims?: Array<{ typ?: string; val?: string }>;
}

export function principalRoles(header: string | null): Set<string> | null {
  if (!header) return null;
  let principal: ClientPrincipal;
  try {
    principal = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as ClientPrincipal;
  } catch {
    return null;
  }
  const roleTypes = new Set([...ROLE_CLAIMS, ...(principal.role_typ ? [principal.role_typ] : [])]);
  return new Set((principal.claims ?? []).filter((c) => c.typ && roleTypes.has(c.typ) && c.val).map((c) => c.val!));
}

/** Who made a change, for audit records: App Service Authentication's principal name, else the function key's holder. */
export function principalName(request: HttpRequest): string {
  return request.headers.get('x-ms-client-principal-name')?.slice(0, 200) || 'function key';
}

export function authorise(request: HttpRequest, enabled: boolean): void {
  if (!enabled) return;
  const roles = principalRoles(request.headers.get('x-ms-client-principal'));
  if (!roles) {
    throw new SyncError('no signed-in caller: this API needs an Entra ID token', { code: 'unauthenticated', module: 'api', errorClass: 'config', status: 401 });
  }
  const reading = request.method === 'GET' || request.method === 'HEAD';
  const allowed = reading ? roles.has(ROLES.read) || roles.has(ROLES.admin) : roles.has(ROLES.admin);
  if (!allowed) {
    const need = reading ? `${ROLES.read} or ${ROLES.admin}` : ROLES.admin;
    throw new SyncError(`the caller lacks the app role ${need}`, { code: 'forbidden', module: 'api', errorClass: 'config', status: 403 });
  }
}
