import type { RunRecord } from '../../../src/core/ports/state';
import { runLeaseName } from '../../../src/sync/deps';
import type { Stack } from '../../support/stack';

/** Shared by the slow local-host scenarios: a small source table, polling, and the checks every scenario ends with. */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `rows` rows in a fresh table of the stack's source schema. */
export async function sourceTable(stack: Stack, name: string, rows: number): Promise<string> {
  const table = `"${stack.schema}".${name}`;
  await stack.pg.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  await stack.pg.query(`INSERT INTO ${table} (id, name, qty) SELECT g, 'Item ' || g, g FROM generate_series(1, ${rows}) g`);
  return table;
}

export const definitionOf = (stack: Stack, id: string, name: string, list: string) => ({
  id,
  table: { schema: stack.schema, name },
  title: 'name',
  fields: [{ source: 'qty' }],
  cursor: { kind: 'timestamp' as const, column: 'updated_at', lookbackSeconds: 2 },
  sharding: { strategy: 'none' as const, list },
});

/** Polls the run until it is final (or the timeout), calling `observe` with every read. */
export async function untilFinal(stack: Stack, runId: string, timeoutMs: number, observe: (run: RunRecord | null) => void = () => undefined): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await stack.state.getRun(runId);
    observe(run);
    if (run && run.status !== 'queued' && run.status !== 'running') return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not end within ${timeoutMs / 1000}s: ${JSON.stringify(run)}`);
    await sleep(2000);
  }
}

export async function leaseIsFree(stack: Stack, definitionId: string): Promise<boolean> {
  const free = await stack.state.acquireLease(runLeaseName(definitionId), 'probe', 1000);
  if (free) await stack.state.releaseLease(runLeaseName(definitionId), 'probe');
  return free;
}

/** Messages left in the `-poison` queues (a queue that never got a poison message does not exist: 0). */
export async function poisoned(stack: Stack): Promise<number> {
  const { QueueServiceClient } = await import('@azure/storage-queue');
  const service = QueueServiceClient.fromConnectionString(stack.services.config.AzureWebJobsStorage!);
  let total = 0;
  for (const queue of ['sync-runs-poison', 'sync-writes-poison', 'sync-moves-poison']) {
    total += (await service.getQueueClient(queue).getProperties().catch(() => undefined))?.approximateMessagesCount ?? 0;
  }
  return total;
}
