import { createApiFunctions } from '../api';
import { adminDeps, type Services } from '../composition';
import type { HttpFunction } from '../runtime/function-table';

/** The management API's triggers, wired to the host's services (read at each request, never at build time). */
export function apiFunctions(services: Services): HttpFunction[] {
  return createApiFunctions({
    version: services.version,
    entraRoles: services.config.API_ENTRA_ROLES,
    adminDeps: (log) => adminDeps(services, log),
  });
}
