import type { TableEntity } from '@azure/data-tables';
import { stateUnavailable } from '../common';
import type { LeaseStorage } from '../leases';
import { encodeKey, str, type Props } from './keys';
import { CONTENTION_ATTEMPTS, type Row, type StateTables } from './tables';

/**
 * Leases in `<p>Leases`: PK = lease name, one row holding the holder and its expiry. Every
 * change is conditional on the ETag just read, and expiry is judged by this process's clock
 * (Table Storage has no server time to compare with).
 */
export class TableLeaseStorage implements LeaseStorage {
  constructor(private readonly tables: StateTables) {}

  async take(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const what = `acquiring lease '${name}'`;
    // The first attempt assumes the lease is free and creates it; a loser reads who holds it.
    let row: Row | null = null;
    for (let attempt = 0; attempt < CONTENTION_ATTEMPTS; attempt++) {
      if (row && isLive(row) && str(row, 'holder') !== holder) return false;
      if (await this.tables.putUnderEtag('Leases', row, leaseEntity(name, holder, ttlMs), what)) return true;
      row = await this.read(name);
    }
    return false;
  }

  async extend(name: string, holder: string, ttlMs: number): Promise<boolean> {
    for (let attempt = 0; attempt < CONTENTION_ATTEMPTS; attempt++) {
      const row = await this.read(name);
      if (!row || str(row, 'holder') !== holder) return false;
      if (await this.tables.putUnderEtag('Leases', row, leaseEntity(name, holder, ttlMs), `renewing lease '${name}'`)) return true;
    }
    return false;
  }

  async free(name: string, holder: string): Promise<void> {
    for (let attempt = 0; attempt < CONTENTION_ATTEMPTS; attempt++) {
      const row = await this.read(name);
      if (!row || str(row, 'holder') !== holder) return;
      // A refusal means the row changed meanwhile. A renewal by the holder itself (a late batch
      // of the same run) must not keep the lease alive, so read again and free it if still ours.
      if (await this.tables.removeUnderEtag('Leases', row, `releasing lease '${name}'`)) return;
    }
    throw stateUnavailable(`lease '${name}' kept changing while being released; retry later`);
  }

  private read(name: string): Promise<Row | null> {
    return this.tables.get('Leases', encodeKey(name), '');
  }
}

const isLive = (row: Row) => Date.parse(str(row, 'expiresAt') ?? '') > Date.now();

function leaseEntity(name: string, holder: string, ttlMs: number): TableEntity<Props> {
  return { partitionKey: encodeKey(name), rowKey: '', holder, expiresAt: new Date(Date.now() + ttlMs).toISOString() };
}
