import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { clearTenantLimiters } from '../src/adapters/sharepoint/limiter';
import type { LedgerEntry } from '../src/core/ports/state';
import { benchStack, createSourceTable, runAndWait } from './pipeline';

/**
 * The pipeline's update phase (issue 13, `pipeline.updateBytesPerRow`): bytes of the PATCH
 * bodies the adapter really sent per updated row when one of the mapped fields changes.
 *
 * The bytes are counted on the wire, by an HTTP proxy between the product's Graph client and
 * the emulator (GRAPH_BASE_URL points at it): every PATCH request, inside `$batch` envelopes or
 * on its own, counts the UTF-8 length of its JSON body. Nothing inside the product is asked.
 *
 * - `changedFields`: the product as it is: one field (`quantity`) changes on N rows; the ledger's
 *   per-field hashes let the update send that field only.
 * - `allFields` ("before changed-fields-only"): the product has no switch that sends every mapped
 *   field, so the same N rows are changed again after the bench has removed their ledger entries'
 *   per-field hashes (through the StateStore API). An entry without per-field hashes is what a
 *   ledger written before changed-fields-only holds, and the product then sends every mapped
 *   field — the old behaviour, through the same adapter, counted by the same proxy.
 */

export interface UpdateBytesResult {
  /** Mean PATCH body bytes per updated row with every mapped field sent. */
  allFields: number;
  /** Mean PATCH body bytes per updated row with only the changed field sent. */
  changedFields: number;
  /** changedFields ÷ allFields. */
  ratio: number;
  tableRows: number;
  updatedRows: number;
  /** Mapped fields per row (Title, amount, quantity, ordered_at, paid) and how many changed. */
  mappedFields: number;
  changedFieldsPerRow: number;
  patches: { allFields: number; changedFields: number };
  runStatus: { allFields: string; changedFields: string };
}

/** A pass-through proxy that counts the bytes of PATCH bodies, in `$batch` envelopes or alone. */
async function patchCountingProxy(): Promise<{ url: string; setTarget(url: string): void; reset(): void; patches(): number; bytes(): number; close(): Promise<void> }> {
  let target = '';
  let patches = 0;
  let bytes = 0;
  const count = (body: unknown) => {
    patches++;
    bytes += Buffer.byteLength(typeof body === 'string' ? body : JSON.stringify(body ?? null), 'utf8');
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      try {
        if (req.method === 'PATCH') count(body.toString('utf8'));
        else if (req.method === 'POST' && /\/\$batch(\?|$)/.test(req.url ?? '') && body.length) {
          const envelope = JSON.parse(body.toString('utf8')) as { requests?: Array<{ method?: string; body?: unknown }> };
          for (const r of envelope.requests ?? []) if (r.method?.toUpperCase() === 'PATCH') count(r.body);
        }
      } catch {
        // not JSON: nothing to count; forwarded as is
      }
      const url = new URL(req.url ?? '/', target);
      const upstream = http.request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    setTarget: (url) => (target = url),
    reset: () => ((patches = 0), (bytes = 0)),
    patches: () => patches,
    bytes: () => bytes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function updatePhase(opts: { pgUrl: string; stateStore: 'postgres' | 'table'; rows: number; updatedRows: number; runTimeoutMs: number; log: (line: string) => void }): Promise<UpdateBytesResult> {
  const { rows, updatedRows, log } = opts;
  clearTenantLimiters();
  const proxy = await patchCountingProxy();
  const handle = await benchStack(opts, 50_000_000, { GRAPH_BASE_URL: proxy.url, GRAPH_BUDGET_RU_PER_MINUTE: '1000000', GRAPH_MAX_CONCURRENCY: '16' });
  const stack = handle.stack;
  try {
    // The proxy forwards each path as the client sent it, so the emulator must serve at its root.
    const emulatorUrl = new URL(stack.emulator.url);
    if (emulatorUrl.pathname !== '/' && emulatorUrl.pathname !== '') {
      throw new Error(`the emulator serves under ${emulatorUrl.pathname}; the proxy expects it at the root`);
    }
    proxy.setTarget(`${emulatorUrl.protocol}//${emulatorUrl.host}`);
    stack.emulator.state.configure({ latencyMs: { fixed: 0, jitter: 0 } });
    log(`  update: loading ${rows} rows (setup)…`);
    const table = await createSourceTable(stack, rows);
    await stack.addDefinition({
      id: 'bench-update',
      table: { schema: stack.schema, name: 'orders' },
      title: 'customer',
      fields: [{ source: 'amount' }, { source: 'quantity' }, { source: 'ordered_at' }, { source: 'paid' }],
      cursor: { kind: 'timestamp', column: 'updated_at' },
      sharding: { strategy: 'hash', buckets: 4, listTemplate: 'Bench {n}' },
      maxRowsPerRun: Math.max(50_000, rows * 2),
    });
    const setup = await runAndWait(stack, 'bench-update', 'incremental', opts.runTimeoutMs);
    if (setup.status !== 'succeeded' || setup.counts.created !== rows) throw new Error(`update setup load did not complete: ${setup.status} ${JSON.stringify(setup.counts)}`);

    // One mapped field (quantity) changes on the first `updatedRows` rows.
    const changeOne = () => stack.pg.query(`UPDATE ${table} SET quantity = quantity + 1, updated_at = clock_timestamp() WHERE id <= $1`, [updatedRows]);
    const measure = async () => {
      await changeOne();
      proxy.reset();
      const run = await runAndWait(stack, 'bench-update', 'incremental', opts.runTimeoutMs);
      if (run.counts.updated !== updatedRows) throw new Error(`expected ${updatedRows} updates, the run counted ${JSON.stringify(run.counts)} (${run.status})`);
      return { bytes: proxy.bytes(), patches: proxy.patches(), status: run.status };
    };

    log(`  update: one field changed on ${updatedRows} rows (changed fields only)…`);
    const changed = await measure();

    // "Before": the same rows' ledger entries without per-field hashes, so every mapped field is sent.
    let stripped = 0;
    for await (const page of stack.state.scanLedger('bench-update', 1000)) {
      const without: LedgerEntry[] = page.map(({ etag: _etag, createdAt: _c, updatedAt: _u, ...e }) => ({ ...e, fieldHashes: null }));
      await stack.state.putLedger(without);
      stripped += without.length;
    }
    log(`  update: per-field hashes removed from ${stripped} ledger entries; the same field changed again (all fields)…`);
    const all = await measure();
    if (changed.patches !== updatedRows || all.patches !== updatedRows) throw new Error(`expected ${updatedRows} PATCHes per run, counted ${changed.patches} and ${all.patches}`);
    const perRow = (b: number) => Number((b / updatedRows).toFixed(1));
    return {
      allFields: perRow(all.bytes),
      changedFields: perRow(changed.bytes),
      ratio: Number((changed.bytes / all.bytes).toFixed(3)),
      tableRows: rows,
      updatedRows,
      mappedFields: 5,
      changedFieldsPerRow: 1,
      patches: { allFields: all.patches, changedFields: changed.patches },
      runStatus: { allFields: all.status, changedFields: changed.status },
    };
  } finally {
    await handle.stop();
    await proxy.close();
    clearTenantLimiters();
  }
}
