/**
 * Who the admin is to the API. The function key is entered once and kept in sessionStorage, so
 * it leaves with the browser tab; it is needed everywhere, as Entra ID comes on top of function
 * keys (infra/modules/functionapp.bicep). With App Service Authentication the platform's
 * `/.auth/me` names the signed-in user and their app roles; read-only users (Sync.Read without
 * Sync.Admin) get no buttons that change things.
 */
const KEY_STORAGE = 'sync-console.functionKey';

export interface EntraSession {
  user: string;
  roles: string[];
}

export interface Access {
  key: string | null;
  /** Null where no App Service Authentication fronts the app (the local host, function keys alone). */
  entra: EntraSession | null;
}

export function storedFunctionKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeFunctionKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

interface AuthMeEntry {
  user_id?: string;
  user_claims?: Array<{ typ: string; val: string }>;
}

const ROLE_CLAIMS = new Set(['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role']);

export async function detectAccess(origin: string): Promise<Access> {
  return { key: storedFunctionKey(), entra: await entraSession(origin) };
}

/** The signed-in user if App Service Authentication fronts the app. */
async function entraSession(origin: string): Promise<EntraSession | null> {
  try {
    const response = await fetch(new URL('/.auth/me', origin), { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (response.ok && (response.headers.get('content-type') ?? '').includes('json')) {
      const entries = (await response.json()) as AuthMeEntry[];
      const me = entries[0];
      if (me) {
        const roles = (me.user_claims ?? []).filter((c) => ROLE_CLAIMS.has(c.typ)).map((c) => c.val);
        return { user: me.user_id ?? 'signed in', roles };
      }
    }
  } catch {
    // No App Service Authentication here (the local host, or function keys in Azure).
  }
  return null;
}

/** Whether this caller may change things; the API enforces it, the console only hides the buttons. */
export function canChange(access: Access): boolean {
  return !access.entra || access.entra.roles.includes('Sync.Admin');
}
