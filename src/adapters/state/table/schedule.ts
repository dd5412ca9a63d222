import { odata, type TableEntity } from '@azure/data-tables';
import type { ScheduleCell } from '../schedule';
import { decodeKey, encodeKey, str, type Props } from './keys';
import { after, fail, isStatus, type Row, type StateTables } from './tables';

/**
 * Schedule values in `<p>Schedule`: PK = definition, one row per value (the last slot at RK
 * '', the reconcile pass count at RK 'reconcilePasses', the drift slot at 'driftSlot', the
 * watch's delta tokens at 'watchTokens', the reconcile mark at 'reconcileMark'), so that changing one never races a
 * change of the other. Compare-and-set is a write under the ETag of the row just read.
 */
class TableScheduleCell<T extends string | number> implements ScheduleCell<T> {
  constructor(
    private readonly tables: StateTables,
    private readonly rowKey: string,
    private readonly property: string,
    private readonly decode: (raw: unknown) => T | null,
  ) {}

  async read(definitionId: string): Promise<T | null> {
    const row = await this.tables.get('Schedule', encodeKey(definitionId), this.rowKey);
    return row ? this.decode(row[this.property]) : null;
  }

  async compareAndSet(definitionId: string, expected: T | null, value: T): Promise<boolean> {
    const row = await this.tables.get('Schedule', encodeKey(definitionId), this.rowKey);
    if ((row ? this.decode(row[this.property]) : null) !== expected) return false;
    const entity: TableEntity<Props> = { partitionKey: encodeKey(definitionId), rowKey: this.rowKey, [this.property]: value, updatedAt: new Date().toISOString() };
    return this.tables.putUnderEtag('Schedule', row, entity, 'recording the schedule');
  }
}

const RECONCILE_ROW = 'reconcilePasses';
const asText = (raw: unknown) => (typeof raw === 'string' ? raw : null);
const asCount = (raw: unknown) => (typeof raw === 'number' ? raw : null);

export const tableSlots = (tables: StateTables): ScheduleCell<string> => new TableScheduleCell(tables, '', 'lastSlot', asText);
export const tableDriftSlots = (tables: StateTables): ScheduleCell<string> => new TableScheduleCell(tables, 'driftSlot', 'lastSlot', asText);
export const tableWatchTokens = (tables: StateTables): ScheduleCell<string> => new TableScheduleCell(tables, 'watchTokens', 'tokens', asText);
export const tableReconcileMarks = (tables: StateTables): ScheduleCell<string> => new TableScheduleCell(tables, 'reconcileMark', 'mark', asText);
export const tableReconcilePasses = (tables: StateTables): ScheduleCell<number> => new TableScheduleCell(tables, RECONCILE_ROW, 'passes', asCount);

/** Earlier builds kept reconcile counts as schedule slots of a definition named `reconcile~<id>`. */
const LEGACY_RECONCILE_PREFIX = encodeKey('reconcile~');

/**
 * Moves reconcile counts left by earlier builds to their own rows, once (at init): each is
 * written unless a count is already there, then the old row goes. Idempotent when instances
 * start together.
 */
export async function carryOverLegacyReconcilePasses(tables: StateTables): Promise<void> {
  const range = `${odata`PartitionKey ge ${LEGACY_RECONCILE_PREFIX}`} and ${odata`PartitionKey lt ${after(LEGACY_RECONCILE_PREFIX)}`}`;
  for (const legacy of await tables.query('Schedule', range)) await carryOver(tables, legacy);
}

async function carryOver(tables: StateTables, legacy: Row): Promise<void> {
  const definitionId = decodeKey(legacy.partitionKey ?? '').slice('reconcile~'.length);
  const passes = Number(str(legacy, 'lastSlot'));
  if (definitionId !== '' && Number.isInteger(passes) && passes >= 0) {
    try {
      await tables.client.Schedule.createEntity({ partitionKey: encodeKey(definitionId), rowKey: RECONCILE_ROW, passes, updatedAt: new Date().toISOString() });
    } catch (error) {
      if (!isStatus(error, 409)) fail(error, 'carrying over reconcile counts');
    }
  }
  await tables.remove('Schedule', legacy.partitionKey ?? '', legacy.rowKey ?? '');
}
