import type { StateStore } from '../../../../src/core/ports/state';
import { configContract } from './config';
import { cursorContract } from './cursors';
import { driftReportContract } from './drift-reports';
import { failoverContract } from './failover';
import { failureContract } from './failures';
import { awkwardKeysContract } from './keys';
import { leaseContract } from './leases';
import { ledgerContract } from './ledger';
import { ledgerCasContract } from './ledger-cas';
import { moveContract } from './moves';
import { runPlanContract } from './run-plans';
import { runContract } from './runs';
import { scheduleContract } from './schedule';
import type { ContractContext, StoreUnderTest } from './harness';

export type { StoreUnderTest } from './harness';

/**
 * One behavioural contract for every StateStore adapter (Table Storage, PostgreSQL, SQL
 * Server), one file per aggregate. Each adapter's test file supplies a factory that opens an
 * isolated store (own table prefix or schema) and can open more instances on the same storage,
 * as separate Function instances would.
 */
export function runStateStoreContract(name: string, factory: () => Promise<StoreUnderTest>): void {
  describe(`${name} state store contract`, () => {
    let sut: StoreUnderTest;
    let store: StateStore;
    // Two more instances, shared by the tests, stand in for other Function instances; a fixed
    // few keeps connection counts low (PGlite's socket server takes ten at most).
    const extra: StateStore[] = [];
    let turn = 0;
    const ctx: ContractContext = {
      get store() {
        return store;
      },
      another() {
        if (extra.length < 2) extra.push(sut.open());
        return extra[turn++ % extra.length]!;
      },
    };

    beforeAll(async () => {
      sut = await factory();
      store = sut.store;
      await store.init();
    });

    afterAll(async () => {
      await Promise.all(extra.map((s) => s.close()));
      await store?.close();
      await sut?.cleanup();
    });

    describe('start-up', () => {
      it('init is idempotent and safe when several instances start at once', async () => {
        const others = [sut.open(), sut.open()];
        await Promise.all([store.init(), ...others.map((s) => s.init())]);
        await Promise.all(others.map((s) => s.close()));
        await store.ping();
      });
    });

    configContract(ctx);
    ledgerContract(ctx);
    ledgerCasContract(ctx);
    cursorContract(ctx);
    runContract(ctx);
    runPlanContract(ctx);
    failureContract(ctx);
    moveContract(ctx);
    leaseContract(ctx);
    scheduleContract(ctx);
    driftReportContract(ctx);
    failoverContract(ctx);
    awkwardKeysContract(ctx);
  });
}
