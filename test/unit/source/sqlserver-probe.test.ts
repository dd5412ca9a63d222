import { SqlServerSource, AG_STATE_SQL, type MssqlPoolLike } from '../../../src/adapters/source/sqlserver';
import type { SourceProbeRequest } from '../../../src/core/ports/source';

/**
 * The SQL Server failover probe with the mssql driver replaced at its boundary (no SQL Server
 * runs here): the statements it sends and how it reads the availability-group state.
 */

type Answer = (sql: string) => unknown[][];

function source(answer: Answer): { db: SqlServerSource; sent: string[] } {
  const sent: string[] = [];
  const createPool = (): MssqlPoolLike => ({
    connect: async () => undefined,
    close: async () => undefined,
    request: () => ({
      arrayRowMode: false,
      input() {
        return this;
      },
      async query(text: string) {
        sent.push(text);
        const recordsets = answer(text);
        return { recordsets, recordset: recordsets[0] };
      },
    }),
  });
  return { db: new SqlServerSource({ host: 'sql.example', database: 'shop', user: 'sync', password: 'pw' }, { createPool }), sent };
}

const column = (name: string, systemType: string) => ({ ordinal: 0, name, systemType, userType: systemType, maxLength: 8, precision: 27, scale: 7, nullable: false, isIdentity: false, isComputed: false, defaultDefinition: null });
const catalog: unknown[][] = [[{ schema: 'dbo', name: 'Orders', type: 'U' }], [column('id', 'int'), column('updated', 'datetime2'), column('Title', 'nvarchar')], [{ name: 'PK', type: 'PK', columnName: 'id' }], []];

function server(agRows: unknown[] | Error): Answer {
  return (sql) => {
    if (sql.includes('@@VERSION')) return [[['Microsoft SQL Server 2022']]];
    if (sql.includes('DECLARE @oid')) return catalog;
    if (sql === AG_STATE_SQL) {
      if (agRows instanceof Error) throw agRows;
      return [agRows];
    }
    return [[['2025-01-01T00:00:00.0000000']]];
  };
}

const request: SourceProbeRequest = { table: { schema: 'dbo', name: 'Orders' }, columns: ['id', 'Title'], cursor: { kind: 'timestamp', column: 'updated' }, timeoutMs: 1000 };

describe('SQL Server failover probe (driver mocked at the boundary)', () => {
  it('reads the local replica of the database in its availability group, with its lag', async () => {
    const { db, sent } = source(server([{ role: 'SECONDARY', synchronizationState: 'SYNCHRONIZED', synchronizationHealth: 'HEALTHY', lagSeconds: 2 }]));
    const probe = await db.probe(request);
    expect(probe).toMatchObject({ ok: true, serverRole: 'standby', lagSeconds: 2, availabilityGroup: { synchronizationState: 'SYNCHRONIZED', synchronizationHealth: 'HEALTHY' } });
    expect(sent).toContain(AG_STATE_SQL);
    expect(AG_STATE_SQL).toMatch(/sys\.dm_hadr_database_replica_states[\s\S]*drs\.database_id = DB_ID\(\) AND drs\.is_local = 1/);
    // the cursor column is read with one bounded statement, bracket-quoted
    expect(sent.filter((s) => /^SELECT TOP \(@p0\) .*\[updated\].* FROM \[dbo\]\.\[Orders\]/.test(s))).toHaveLength(1);
  });

  it('a database in no availability group, or a user without VIEW SERVER STATE, has an unknown role, not a failed probe', async () => {
    expect(await source(server([])).db.probe(request)).toMatchObject({ ok: true, serverRole: null, lagSeconds: null, availabilityGroup: null });
    const denied = Object.assign(new Error('VIEW SERVER STATE permission was denied on object server'), { number: 300 });
    expect(await source(server(denied)).db.probe(request)).toMatchObject({ ok: true, serverRole: null, availabilityGroup: null });
  });

  it('a replica that is not synchronizing fails the probe at the replication step', async () => {
    const probe = await source(server([{ role: 'SECONDARY', synchronizationState: 'NOT SYNCHRONIZING', synchronizationHealth: 'NOT_HEALTHY', lagSeconds: null }])).db.probe(request);
    expect(probe).toMatchObject({ ok: false, failedStep: 'replication', errorCode: 'replica_not_synchronizing' });
  });

  it('a mapped column missing from the table fails the probe at the table step, naming the column', async () => {
    const probe = await source(server([])).db.probe({ ...request, columns: ['id', 'Amount'] });
    expect(probe).toMatchObject({ ok: false, failedStep: 'table', errorCode: 'unknown_column' });
    expect(probe.error).toContain('Amount');
  });

  it('a cursor column of the wrong type fails the probe at the cursor step', async () => {
    const probe = await source(server([])).db.probe({ ...request, cursor: { kind: 'rowversion', column: 'updated' } });
    expect(probe).toMatchObject({ ok: false, failedStep: 'cursor', errorCode: 'cursor_column_type' });
  });
});
