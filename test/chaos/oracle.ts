import { createHash } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { QueueServiceClient } from '@azure/storage-queue';
import type { Client } from 'pg';

/**
 * The chaos oracle (DESIGN §15). It shares no code with the product: expected items come from
 * SQL through this file's own small mapping of the chaos table, actual items from the Graph
 * emulator's store across every list of the site, and the ledger, runs and leases are read raw
 * from the state store's tables (Azure Table Storage entities or PostgreSQL rows).
 */

/** The chaos table's mapping, written out from DESIGN §4 by hand: key [id] → SHA-256 of `["<id>"]`. */
export const syncKeyOf = (id: string | number | bigint) => createHash('sha256').update(JSON.stringify([String(id)]), 'utf8').digest('hex');

export const REGION_LISTS: Record<string, string> = { EU: 'Europe', US: 'America', APAC: 'Asia' };
export const listNameFor = (prefix: string, region: string) => `${prefix} ${REGION_LISTS[region] ?? 'Rest'}`;

export interface ChaosMapping {
  listPrefix: string;
  /** Whether the definition maps the `note` column too (the scenario's mapping change adds it). */
  withNote: boolean;
}

export interface EmulatorItems {
  /** Every list of the site with its items' fields (the emulator's own store). */
  lists(): Array<{ id: string; name: string; items: Array<{ id: string; fields: Record<string, unknown> }> }>;
}

export interface RawLedgerEntry {
  identityHash: string;
  listId: string;
  itemId: string | null;
  state: string;
  movedFrom: unknown;
}

export interface RawState {
  ledger(definitionId: string): Promise<RawLedgerEntry[]>;
  runs(definitionId: string): Promise<Array<{ runId: string; status: string; error: string | null }>>;
  /** Holders of unexpired leases whose name mentions the definition. */
  liveLeases(definitionId: string): Promise<string[]>;
}

/** Raw reads of the Table Storage layout: `<prefix>Ledger` rows `k_<hash>`, `<prefix>Runs`, `<prefix>Leases`. */
export function rawTableState(connectionString: string, prefix: string): RawState {
  const table = (name: string) => TableClient.fromConnectionString(connectionString, `${prefix}${name}`, { allowInsecureConnection: true });
  const all = async (name: string, filter?: string) => {
    const out: Array<Record<string, unknown>> = [];
    for await (const e of table(name).listEntities({ queryOptions: filter ? { filter } : {} })) out.push(e as Record<string, unknown>);
    return out;
  };
  const pkFilter = (definitionId: string) => `PartitionKey eq '${definitionId.replace(/'/g, "''")}'`;
  return {
    async ledger(definitionId) {
      const rows = await all('Ledger', pkFilter(definitionId));
      return rows
        .filter((r) => String(r.rowKey).startsWith('k_') && !r.tombstone)
        .map((r) => ({
          identityHash: String(r.identityHash),
          listId: String(r.listId),
          itemId: typeof r.itemId === 'string' ? r.itemId : null,
          state: String(r.state),
          movedFrom: Object.keys(r).some((k) => k.startsWith('movedFrom')) ? 'set' : null,
        }));
    },
    async runs(definitionId) {
      const rows = await all('Runs', pkFilter(definitionId));
      return rows.map((r) => ({ runId: String(r.runId ?? r.rowKey), status: String(r.status), error: typeof r.error === 'string' ? r.error : null }));
    },
    async liveLeases(definitionId) {
      const rows = await all('Leases');
      return rows.filter((r) => String(r.partitionKey).includes(definitionId) && Date.parse(String(r.expiresAt)) > Date.now()).map((r) => String(r.holder));
    },
  };
}

/** Raw reads of the PostgreSQL state schema: `ledger`, `runs`, `leases`. */
export function rawSqlState(pg: Client, schema: string): RawState {
  const s = `"${schema.replace(/"/g, '""')}"`;
  return {
    async ledger(definitionId) {
      const { rows } = await pg.query(`SELECT identity_hash, list_id, item_id, state, moved_from FROM ${s}.ledger WHERE definition_id = $1`, [definitionId]);
      return rows.map((r) => ({ identityHash: r.identity_hash, listId: r.list_id, itemId: r.item_id, state: r.state, movedFrom: r.moved_from }));
    },
    async runs(definitionId) {
      const { rows } = await pg.query(`SELECT run_id, status, error FROM ${s}.runs WHERE definition_id = $1`, [definitionId]);
      return rows.map((r) => ({ runId: r.run_id, status: r.status, error: r.error }));
    },
    async liveLeases(definitionId) {
      const { rows } = await pg.query(`SELECT holder FROM ${s}.leases WHERE position($1 in name) > 0 AND expires_at > now()`, [definitionId]);
      return rows.map((r) => r.holder);
    },
  };
}

/** Messages of this definition sitting in a `-poison` queue (Storage queues on the local host). */
export async function poisonedMessages(connectionString: string, definitionId: string): Promise<Array<{ queue: string; runId: string; batchId?: string }>> {
  const service = QueueServiceClient.fromConnectionString(connectionString);
  const out: Array<{ queue: string; runId: string; batchId?: string }> = [];
  for await (const q of service.listQueues()) {
    if (!q.name.endsWith('-poison')) continue;
    const peeked = await service.getQueueClient(q.name).peekMessages({ numberOfMessages: 32 });
    for (const m of peeked.peekedMessageItems) {
      let body: Record<string, unknown> = {};
      for (const text of [m.messageText, Buffer.from(m.messageText, 'base64').toString('utf8')]) {
        try {
          body = JSON.parse(text);
          break;
        } catch {
          /* try the other encoding */
        }
      }
      if (body.definitionId === definitionId) out.push({ queue: q.name, runId: String(body.runId), batchId: body.batchId as string | undefined });
    }
  }
  return out;
}

export interface OracleInput {
  definitionId: string;
  pg: Client;
  /** SQL of the rows the definition selects: id, name, region, qty, note. */
  selectSql: string;
  mapping: ChaosMapping;
  /** Every key value the scenario ever inserted (so items of deleted rows are recognised as ours). */
  everIds: Iterable<string>;
  emulator: EmulatorItems;
  raw: RawState;
  storageConnectionString: string;
}

const same = (want: unknown, got: unknown) => {
  if ((want ?? null) === (got ?? null)) return true;
  if (typeof want === 'number' || typeof got === 'number') return Number(want) === Number(got);
  return false;
};

/** Returns every way the system differs from DESIGN §4's invariant (empty when it holds). */
export async function checkInvariant(input: OracleInput): Promise<string[]> {
  const problems: string[] = [];
  const { rows } = await input.pg.query(input.selectSql);
  const expected = new Map<string, { id: string; list: string; fields: Record<string, unknown> }>();
  for (const r of rows) {
    const fields: Record<string, unknown> = { Title: r.name, qty: r.qty, region: r.region };
    if (input.mapping.withNote) fields.note = r.note;
    expected.set(syncKeyOf(r.id), { id: String(r.id), list: listNameFor(input.mapping.listPrefix, r.region), fields });
  }
  const ours = new Set<string>([...input.everIds].map(syncKeyOf));

  // Every item on the site that carries one of our SyncKeys, or sits in one of our lists.
  const found = new Map<string, Array<{ list: string; listId: string; id: string; fields: Record<string, unknown> }>>();
  for (const list of input.emulator.lists()) {
    const inOurList = list.name.startsWith(`${input.mapping.listPrefix} `);
    for (const item of list.items) {
      const key = typeof item.fields.SyncKey === 'string' ? item.fields.SyncKey : '';
      if (!ours.has(key)) {
        if (inOurList) problems.push(`orphan item ${list.name}/${item.id} (SyncKey ${key.slice(0, 8) || 'none'})`);
        continue;
      }
      const at = found.get(key) ?? [];
      at.push({ list: list.name, listId: list.id, id: item.id, fields: item.fields });
      found.set(key, at);
    }
  }
  for (const [key, want] of expected) {
    const items = found.get(key) ?? [];
    if (items.length === 0) problems.push(`row ${want.id}: no item`);
    if (items.length > 1) problems.push(`row ${want.id}: ${items.length} items (${items.map((i) => `${i.list}/${i.id}`).join(', ')})`);
    for (const item of items) {
      if (item.list !== want.list) problems.push(`row ${want.id}: item ${item.list}/${item.id} should be in ${want.list}`);
      for (const [field, value] of Object.entries(want.fields)) {
        if (!same(value, item.fields[field])) problems.push(`row ${want.id}: ${field} is ${JSON.stringify(item.fields[field])}, the row has ${JSON.stringify(value)}`);
      }
    }
  }
  for (const [key, items] of found) {
    if (!expected.has(key)) problems.push(`deleted row still has ${items.length} item(s): ${items.map((i) => `${i.list}/${i.id}`).join(', ')}`);
  }

  const ledger = await input.raw.ledger(input.definitionId);
  const byHash = new Map(ledger.map((e) => [e.identityHash, e]));
  for (const [key, want] of expected) {
    const e = byHash.get(key);
    const item = (found.get(key) ?? [])[0];
    if (!e) problems.push(`row ${want.id}: no ledger entry`);
    else if (e.state !== 'synced' || e.movedFrom) problems.push(`row ${want.id}: ledger entry is ${e.state}${e.movedFrom ? ' with movedFrom' : ''}`);
    else if (item && (e.listId !== item.listId || e.itemId !== item.id)) problems.push(`row ${want.id}: ledger points at ${e.listId}/${e.itemId}, the item is ${item.listId}/${item.id}`);
  }
  for (const e of ledger) if (!expected.has(e.identityHash)) problems.push(`ledger entry ${e.identityHash.slice(0, 8)} (${e.state}) names no row`);

  for (const run of await input.raw.runs(input.definitionId)) {
    if (run.status === 'queued' || run.status === 'running') problems.push(`run ${run.runId} is still ${run.status}`);
  }
  const leases = await input.raw.liveLeases(input.definitionId);
  if (leases.length) problems.push(`lease still held by ${leases.join(', ')}`);
  const finals = new Map((await input.raw.runs(input.definitionId)).map((r) => [r.runId, r.status]));
  for (const p of await poisonedMessages(input.storageConnectionString, input.definitionId)) {
    const status = finals.get(p.runId);
    if (!status || status === 'queued' || status === 'running' || status === 'succeeded') {
      problems.push(`poisoned ${p.queue} message ${p.batchId ?? ''} of run ${p.runId} is not accounted for (run ${status ?? 'unknown'})`);
    }
  }
  return problems;
}
