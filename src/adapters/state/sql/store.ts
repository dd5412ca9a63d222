import { ComposedStateStore } from '../composed-store';
import type { SqlMigration } from '../migrations/postgres';
import { SqlConfigStorage } from './config-records';
import { SqlCursors } from './cursors';
import type { SqlDb } from './db';
import { SqlDriftReportStorage } from './drift-reports';
import { SqlFailoverEventStorage, SqlSourceHealthStorage } from './failover';
import { SqlFailureStorage } from './failures';
import { SqlLeaseStorage } from './leases';
import { SqlLedgerStorage } from './ledger';
import { SqlMoveStorage } from './moves';
import { SqlRunPlanStorage } from './run-plans';
import { SqlRunStorage } from './runs';
import { sqlDriftSlots, sqlReconcileMarks, sqlReconcilePasses, sqlSlots, sqlWatchTokens } from './schedule';

/** The state store over a SQL engine: every aggregate's SQL storage, over one `SqlDb`. The engine adds connections and migrations. */
export abstract class SqlStateStore extends ComposedStateStore {
  /**
   * @param schemaName the state schema, unquoted (the dialect holds it quoted)
   * @param migrations the engine's migrations, applied by `init`
   * @param statisticsRefreshRows ledger rows changed by this process between two refreshes of its statistics
   */
  protected constructor(
    protected readonly db: SqlDb,
    protected readonly schemaName: string,
    protected readonly migrations: SqlMigration[],
    statisticsRefreshRows?: number,
  ) {
    super({
      config: new SqlConfigStorage(db),
      ledger: new SqlLedgerStorage(db, statisticsRefreshRows),
      cursors: new SqlCursors(db),
      runs: new SqlRunStorage(db),
      runPlans: new SqlRunPlanStorage(db),
      failures: new SqlFailureStorage(db),
      moves: new SqlMoveStorage(db),
      leases: new SqlLeaseStorage(db),
      schedule: { slots: sqlSlots(db), reconcilePasses: sqlReconcilePasses(db), driftSlots: sqlDriftSlots(db), watchTokens: sqlWatchTokens(db), reconcileMarks: sqlReconcileMarks(db) },
      driftReports: new SqlDriftReportStorage(db),
      sourceHealth: new SqlSourceHealthStorage(db),
      failoverEvents: new SqlFailoverEventStorage(db),
    });
  }

  async ping(): Promise<void> {
    await this.db.query('ping', 'SELECT 1 AS ok');
  }
}
