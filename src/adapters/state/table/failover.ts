import type { TableEntity } from '@azure/data-tables';
import type { FailoverEvent, Page, SourceHealthRecord } from '../../../core/ports/state';
import type { PageRequest } from '../common';
import type { FailoverEventStorage, SourceHealthStorage } from '../failover';
import { encodeKey, getJson, invertedTime, putJson, type Props } from './keys';
import { after, fail, isStatus, type StateTables } from './tables';

/**
 * `<p>Failover`, PK = definition: `h_<source>` health rows, and per event a `g_<eventId>` guard
 * (idempotency) and a `t_<inverted at>_<eventId>` listing row, written in one transaction.
 */
export class TableSourceHealthStorage implements SourceHealthStorage {
  constructor(private readonly tables: StateTables) {}

  async read(definitionId: string): Promise<SourceHealthRecord[]> {
    const rows = await this.tables.rangeOf('Failover', encodeKey(definitionId), { ge: 'h_', lt: after('h_') }, 1000);
    return rows.map((row) => getJson(row, 'doc') as SourceHealthRecord);
  }

  async write(record: SourceHealthRecord): Promise<void> {
    const entity: Props = { partitionKey: encodeKey(record.definitionId), rowKey: `h_${encodeKey(record.sourceId)}` };
    putJson(entity, 'doc', record);
    await this.tables.upsert('Failover', entity, `health of source '${record.sourceId}'`);
  }
}

export class TableFailoverEventStorage implements FailoverEventStorage {
  constructor(private readonly tables: StateTables) {}

  async insertOnce(event: FailoverEvent): Promise<void> {
    const pk = encodeKey(event.definitionId);
    const id = encodeKey(event.eventId);
    const listing: Props = { partitionKey: pk, rowKey: `t_${invertedTime(Date.parse(event.at))}_${id}` };
    putJson(listing, 'doc', event);
    try {
      await this.tables.client.Failover.submitTransaction([
        ['create', { partitionKey: pk, rowKey: `g_${id}` }],
        ['create', listing as TableEntity],
      ]);
    } catch (error) {
      if (isStatus(error, 409)) return;
      fail(error, 'recording a failover');
    }
  }

  page(definitionId: string, request: PageRequest): Promise<Page<FailoverEvent>> {
    return this.tables.page('Failover', encodeKey(definitionId), { ge: 't_', lt: after('t_') }, request, (row) => getJson(row, 'doc') as FailoverEvent);
  }
}
