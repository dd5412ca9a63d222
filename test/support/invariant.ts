import type { ResolvedMapping } from '../../src/core/mapping';
import { mapRow } from '../../src/core/mapping';
import { shardList } from '../../src/core/sharding';
import type { Stack } from './stack';

/**
 * DESIGN §4's invariant, checked from the outside: the SharePoint items carrying a SyncKey are
 * exactly the selected source rows, one each, in the list the shard policy names, with the
 * row's latest mapped content; the ledger points at exactly those items. `source` is the
 * database whose rows count (after a failover: the new primary).
 */
export async function assertInvariant(stack: Stack, definitionId: string, selectSql: string, source: Pick<Stack['pg'], 'query'> = stack.pg): Promise<void> {
  const stored = (await stack.state.getDefinition(definitionId))!;
  const mapping = stored.mapping as ResolvedMapping;
  const rows = (await source.query(selectSql)).rows as Array<Record<string, unknown>>;
  const expected = new Map<string, { list: string; fields: Record<string, unknown> }>();
  for (const row of rows) {
    const m = mapRow(row, mapping);
    expected.set(m.identity, { list: shardList(row, stored.definition.sharding, m.identity), fields: m.fields });
  }
  // Only this definition's lists: identities repeat across definitions that share key values.
  const owned = new Set(Object.values(stored.lists ?? {}));
  const items = stack.items().filter((i) => owned.has(stack.emulator.state.lists().find((l) => l.displayName === i.list)?.id ?? ''));
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const key = String(item.fields.SyncKey);
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const want = expected.get(key);
    if (!want) {
      problems.push(`orphan item ${item.list}/${item.id}`);
      continue;
    }
    if (want.list !== item.list) problems.push(`item for ${key.slice(0, 8)} is in ${item.list}, expected ${want.list}`);
    for (const [field, value] of Object.entries(want.fields)) {
      const actual = item.fields[field];
      if ((value ?? null) !== (actual ?? null) && !(typeof value === 'string' && typeof actual === 'string' && Date.parse(value) === Date.parse(actual))) {
        problems.push(`item ${item.list}/${item.id} field ${field} is ${JSON.stringify(actual)}, expected ${JSON.stringify(value)}`);
      }
    }
  }
  for (const [key, n] of seen) if (n > 1) problems.push(`duplicate items for ${key.slice(0, 8)} (${n})`);
  for (const key of expected.keys()) if (!seen.has(key)) problems.push(`missing item for ${key.slice(0, 8)}`);

  const ledger = new Map<string, { listId: string; itemId: string | null; state: string }>();
  for await (const page of stack.state.scanLedger(definitionId)) for (const e of page) ledger.set(e.identityHash, e);
  const listIds = new Map(stack.emulator.state.lists().map((l) => [l.displayName, l.id]));
  for (const item of items) {
    const e = ledger.get(String(item.fields.SyncKey));
    if (!e || e.itemId !== item.id || e.listId !== listIds.get(item.list) || e.state !== 'synced') problems.push(`ledger does not point at ${item.list}/${item.id} (${JSON.stringify(e)})`);
  }
  for (const key of ledger.keys()) if (!seen.has(key)) problems.push(`ledger entry ${key.slice(0, 8)} has no item`);
  if (problems.length) throw new Error(`invariant broken (${problems.length}):\n${problems.slice(0, 20).join('\n')}`);
}
