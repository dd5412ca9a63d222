import { odata, type TransactionAction } from '@azure/data-tables';
import type { PlannedOpKind, RunPlanPage } from '../../../core/ports/state';
import { chunk } from '../common';
import type { RunPlanStorage } from '../run-plans';
import { encodeKey, getJson, putJson, type Props } from './keys';
import { fail, type StateTables } from './tables';

/** Table Storage holds at most 100 operations in one entity-group transaction. */
const TRANSACTION_OPS = 100;

/** A dry run's plan pages in `<p>Plans`: PK = run, RK = `<op>_<list>_<page>`; deleted a transaction of 100 at a time. */
export class TableRunPlanStorage implements RunPlanStorage {
  constructor(private readonly tables: StateTables) {}

  async write(p: RunPlanPage): Promise<void> {
    const entity: Props = { partitionKey: encodeKey(p.runId), rowKey: pageKey(p.list, p.op, p.page), list: p.list, op: p.op, page: p.page };
    putJson(entity, 'items', p.items);
    await this.tables.upsert('Plans', entity, `page ${p.page} of the ${p.op} plan for '${p.list}' of run '${p.runId}'`);
  }

  async read(runId: string, list: string, op: PlannedOpKind, page: number): Promise<unknown[] | null> {
    const row = await this.tables.get('Plans', encodeKey(runId), pageKey(list, op, page));
    return row ? ((getJson(row, 'items') as unknown[] | undefined) ?? []) : null;
  }

  async deleteAll(runId: string): Promise<void> {
    const pk = encodeKey(runId);
    const keys: string[] = [];
    try {
      // Row keys only: the pages themselves may be large.
      for await (const row of this.tables.client.Plans.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${pk}`, select: ['RowKey'] } })) keys.push(row.rowKey ?? '');
    } catch (error) {
      fail(error, `listing the plan pages of run '${runId}'`);
    }
    for (const part of chunk(keys, TRANSACTION_OPS)) {
      const actions: TransactionAction[] = part.map((rowKey) => ['delete', { partitionKey: pk, rowKey }]);
      // A concurrent delete may have removed some rows (the transaction then fails as a whole): delete the rest one by one, a 404 being fine.
      await this.tables.client.Plans.submitTransaction(actions).catch(async () => {
        for (const rowKey of part) await this.tables.remove('Plans', pk, rowKey);
      });
    }
  }
}

const pageKey = (list: string, op: PlannedOpKind, page: number) => `${op}_${encodeKey(list)}_${String(page).padStart(6, '0')}`;
