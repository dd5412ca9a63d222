import type { ResolvedMapping } from '../../src/core/mapping';
import { SYNC_KEY_COLUMN } from '../../src/core/ports/list-target';
import type { LedgerEntry } from '../../src/core/ports/state';
import { listIdFor, readRows } from '../../src/sync/drift/source-rows';
import type { Stack } from './stack';

const SEED_PAGE = 2000;

/**
 * Puts every source row of a provisioned definition that the ledger does not know yet into its list and the ledger, in step, as a
 * run would leave them, but through the emulator's store (no RU, no throttling): large lists
 * for drift tests and the benchmark in seconds instead of minutes of Graph batches.
 */
export async function seedInStep(stack: Pick<Stack, 'state' | 'deps' | 'emulator'>, definitionId: string): Promise<number> {
  const stored = (await stack.state.getDefinition(definitionId))!;
  const def = stored.definition;
  const mapping = stored.mapping as ResolvedMapping;
  const source = await stack.deps.source(stored.activeSourceId);
  let seeded = 0;
  for await (const keys of source.streamKeys(def.table, mapping.key, SEED_PAGE)) {
    const rows = readRows(await source.readByKeys(def.table, mapping.readColumns, mapping.key, keys.map((k) => mapping.key.map((c) => k[c]))), def, mapping);
    const known = await stack.state.getLedger(definitionId, [...rows.keys()]);
    const byList = new Map<string, Array<[string, NonNullable<ReturnType<typeof rows.get>>]>>();
    for (const [hash, row] of rows) {
      if (known.has(hash)) continue; // a run synced it already
      const listId = listIdFor(stored.lists, row);
      if (listId) byList.set(listId, [...(byList.get(listId) ?? []), [hash, row]]);
    }
    const entries: LedgerEntry[] = [];
    for (const [listId, group] of byList) {
      const ids = stack.emulator.state.seedItems(listId, group.map(([hash, row]) => ({ ...row.mapped!.fields, [SYNC_KEY_COLUMN]: hash })));
      group.forEach(([identityHash, row], n) => entries.push({ definitionId, identityHash, listId, itemId: ids[n]!, contentHash: row.mapped!.contentHash, state: 'synced', movedFrom: null }));
    }
    await stack.state.putLedger(entries);
    seeded += entries.length;
  }
  return seeded;
}
