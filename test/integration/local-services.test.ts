import net from 'node:net';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { freePort, freePorts, startAzurite, type AzuriteHandle } from '../../src/local/services';

/**
 * The local stand-ins as the tests, the chaos runner and the benchmark start them: several at
 * the same moment, from parallel processes or workers.
 */
describe('starting Azurite', () => {
  it('hands out distinct ports within one call', async () => {
    const ports = await freePorts(40);
    expect(new Set(ports).size).toBe(40);
  });

  it('several instances started at the same moment each get their own ports and their own data', async () => {
    const handles: AzuriteHandle[] = await Promise.all(Array.from({ length: 4 }, () => startAzurite()));
    try {
      const ports = handles.flatMap((h) => [h.tablePort, h.queuePort]);
      expect(new Set(ports).size).toBe(ports.length);
      // A table made in the first instance exists there only: no two handles share one process.
      await TableClient.fromConnectionString(handles[0]!.connectionString, 'onlyHere', { allowInsecureConnection: true }).createTable();
      const seen = await Promise.all(
        handles.map(async (h) => {
          const names: string[] = [];
          for await (const t of TableServiceClient.fromConnectionString(h.connectionString, { allowInsecureConnection: true }).listTables()) names.push(t.name!);
          return names.includes('onlyHere');
        }),
      );
      expect(seen).toEqual([true, false, false, false]);
    } finally {
      await Promise.all(handles.map((h) => h.stop()));
    }
  }, 60_000);

  it('a port the caller chose that is taken fails with a clear message, and is not swapped for another', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      await expect(startAzurite({ tablePort: port })).rejects.toThrow(`port ${port} is already in use; Azurite cannot start there`);
    } finally {
      blocker.close();
    }
  });
});
