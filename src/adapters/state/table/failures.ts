import { odata } from '@azure/data-tables';
import type { FailureRecord, Page } from '../../../core/ports/state';
import { keyAfterToken, mapLimit, pageAfterKey, type PageRequest } from '../common';
import type { FailureStorage } from '../failures';
import { decodeKey, encodeKey, getJson, getText, num, putJson, putText, str, type Props } from './keys';
import type { Row, StateTables } from './tables';

/** Row failures in `<p>Failures`: PK = definition, RK = identity hash. */
export class TableFailureStorage implements FailureStorage {
  constructor(private readonly tables: StateTables) {}

  async write(failure: FailureRecord): Promise<void> {
    const entity: Props = {
      partitionKey: encodeKey(failure.definitionId),
      rowKey: encodeKey(failure.identityHash),
      identityHash: failure.identityHash,
      attempts: failure.attempts,
      quarantined: failure.quarantined,
      firstFailedAt: failure.firstFailedAt,
      lastFailedAt: failure.lastFailedAt,
    };
    if (failure.lastRunId !== undefined) entity.lastRunId = failure.lastRunId;
    putJson(entity, 'key', failure.key);
    putText(entity, 'lastError', failure.lastError);
    await this.tables.upsert('Failures', entity, `the failure of ${failure.identityHash}`);
  }

  async list(definitionId: string, includeQuarantined: boolean): Promise<FailureRecord[]> {
    let filter = odata`PartitionKey eq ${encodeKey(definitionId)}`;
    if (!includeQuarantined) filter += ` and ${odata`quarantined eq ${false}`}`;
    return (await this.tables.query('Failures', filter)).map((row) => toFailure(definitionId, row));
  }

  async page(definitionId: string, quarantined: boolean | undefined, request: PageRequest): Promise<Page<FailureRecord>> {
    // Row keys are encoded hashes; the encoding keeps hex hashes in order, and the token is the row key itself.
    let filter = `${odata`PartitionKey eq ${encodeKey(definitionId)}`} and ${odata`RowKey gt ${keyAfterToken(request.next)}`}`;
    if (quarantined !== undefined) filter += ` and ${odata`quarantined eq ${quarantined}`}`;
    const rows = await this.tables.query('Failures', filter, request.limit + 1, request.limit + 1);
    return pageAfterKey(rows, request.limit, (row) => toFailure(definitionId, row), (row) => row.rowKey ?? '');
  }

  async readMany(definitionId: string, identityHashes: string[]): Promise<FailureRecord[]> {
    const rows = await this.tables.getMany('Failures', encodeKey(definitionId), identityHashes.map(encodeKey));
    return [...rows.values()].map((row) => toFailure(definitionId, row));
  }

  async remove(definitionId: string, identityHashes: string[]): Promise<void> {
    const pk = encodeKey(definitionId);
    await mapLimit(identityHashes, this.tables.options.concurrency, (hash) => this.tables.remove('Failures', pk, encodeKey(hash)));
  }
}

function toFailure(definitionId: string, row: Row): FailureRecord {
  const failure: FailureRecord = {
    definitionId,
    identityHash: str(row, 'identityHash') ?? decodeKey(row.rowKey ?? ''),
    key: (getJson(row, 'key') as unknown[] | undefined) ?? [],
    attempts: num(row, 'attempts'),
    lastError: getText(row, 'lastError') ?? '',
    quarantined: row.quarantined === true,
    firstFailedAt: str(row, 'firstFailedAt') ?? '',
    lastFailedAt: str(row, 'lastFailedAt') ?? '',
  };
  const lastRunId = str(row, 'lastRunId');
  if (lastRunId !== undefined) failure.lastRunId = lastRunId;
  return failure;
}
