import { odata } from '@azure/data-tables';
import { ComposedStateStore } from './composed-store';
import { TableConfigStorage } from './table/config-records';
import { TableCursors } from './table/cursors';
import { TableDriftReportStorage } from './table/drift-reports';
import { TableFailoverEventStorage, TableSourceHealthStorage } from './table/failover';
import { TableFailureStorage } from './table/failures';
import { TableLeaseStorage } from './table/leases';
import { TableLedgerStorage } from './table/ledger';
import { TableMoveStorage } from './table/moves';
import { TableRunPlanStorage } from './table/run-plans';
import { TableRunStorage } from './table/runs';
import { carryOverLegacyReconcilePasses, tableDriftSlots, tableReconcilePasses, tableReconcileMarks, tableSlots, tableWatchTokens } from './table/schedule';
import { fail, isStatus, StateTables, TABLES, type TableConnection } from './table/tables';

export type TableStateStoreOptions = TableConnection & {
  /** Prepended to every table name so deployments and tests can share an account. */
  tablePrefix?: string;
  /**
   * How getLedger fetches a page of hashes. `point` (default): parallel point reads. `filter`:
   * OR'ed RowKey filters, 14 keys per query. On Azurite filters are ~5x faster (bench/state.ts,
   * compareTableLookups), but Azurite is not the service: there, random keys OR'ed in one filter
   * are not point lookups and the rows a query scans count against the partition's 2,000
   * entities/s target, so a ledger partition of millions of rows would be scanned per page.
   * Point reads cost the same at any partition size.
   */
  lookup?: 'point' | 'filter';
  /** Requests in flight for one batch read or write. */
  concurrency?: number;
  /** How long run-row updates keep retrying under contention (default 25 s); tests shorten it. */
  counterDeadlineMs?: number;
};

/** StateStore on Azure Table Storage (DESIGN §4); the layout is described in `table/tables.ts`. */
export class TableStateStore extends ComposedStateStore {
  private readonly tables: StateTables;

  constructor(options: TableStateStoreOptions) {
    const tables = new StateTables(options, options.tablePrefix ?? 'sync', { lookup: options.lookup ?? 'point', concurrency: options.concurrency ?? 32, counterDeadlineMs: options.counterDeadlineMs });
    super({
      config: new TableConfigStorage(tables),
      ledger: new TableLedgerStorage(tables),
      cursors: new TableCursors(tables),
      runs: new TableRunStorage(tables),
      runPlans: new TableRunPlanStorage(tables),
      failures: new TableFailureStorage(tables),
      moves: new TableMoveStorage(tables),
      leases: new TableLeaseStorage(tables),
      schedule: { slots: tableSlots(tables), reconcilePasses: tableReconcilePasses(tables), driftSlots: tableDriftSlots(tables), watchTokens: tableWatchTokens(tables), reconcileMarks: tableReconcileMarks(tables) },
      driftReports: new TableDriftReportStorage(tables),
      sourceHealth: new TableSourceHealthStorage(tables),
      failoverEvents: new TableFailoverEventStorage(tables),
    });
    this.tables = tables;
  }

  async init(): Promise<void> {
    try {
      await Promise.all(TABLES.map((t) => this.tables.client[t].createTable()));
    } catch (error) {
      fail(error, 'creating state tables');
    }
    await carryOverLegacyReconcilePasses(this.tables);
  }

  async ping(): Promise<void> {
    try {
      await this.tables.client.Config.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${'ping'}` } }).byPage({ maxPageSize: 1 }).next();
    } catch (error) {
      fail(error, 'ping');
    }
  }

  async close(): Promise<void> {
    // HTTP clients hold no connections worth closing.
  }

  /** Test/maintenance helper: removes every table of this prefix. */
  async dropAll(): Promise<void> {
    await Promise.all(TABLES.map((t) => this.tables.client[t].deleteTable().catch((e: unknown) => (isStatus(e, 404) ? undefined : Promise.reject(e)))));
  }
}
