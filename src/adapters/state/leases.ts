import type { LeaseStore } from '../../core/ports/state';
import { invalidInput } from './common';

/**
 * Leases for every backend. The rule a backend's `LeaseStorage` applies atomically: a lease is
 * free when nobody holds it or its holder's time ran out; only the holder extends or frees it,
 * and an expired holder keeps it until someone else takes it. SQL backends judge expiry by the
 * database clock, Table Storage by the caller's (it has no server time to compare with).
 */

export interface LeaseStorage {
  /** Takes the lease for `ttlMs` when it is free or already held by `holder`; false otherwise. */
  take(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease by `ttlMs` from now while `holder` holds it; false otherwise. */
  extend(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Frees the lease if `holder` holds it, even against a renewal racing the release. */
  free(name: string, holder: string): Promise<void>;
}

function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw invalidInput(`lease ttl must be a positive number of milliseconds, got ${ttlMs}`);
}

export class Leases implements LeaseStore {
  constructor(private readonly storage: LeaseStorage) {}

  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    return this.storage.take(name, holder, ttlMs);
  }

  renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    return this.storage.extend(name, holder, ttlMs);
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.storage.free(name, holder);
  }
}
