import { EnvSecrets } from '../../src/adapters/secrets/env';
import { isSyncError } from '../../src/core/errors';
import { replaceDefinition, type AdminDeps } from '../../src/sync/definitions-admin';
import { startStack, type Stack } from '../support/stack';
import { assertInvariant } from '../support/invariant';

/**
 * Changing the identity of a definition whose lists hold items (finding 6): refused without
 * `rebuild`, and with it the old items are deleted through the ledger and every row is created
 * once under its new identity — never an item left next to its replacement.
 */
describe('changing the key of a definition with items', () => {
  let stack: Stack;
  let admin: AdminDeps;
  const table = () => `"${stack.schema}".parts`;

  beforeAll(async () => {
    stack = await startStack();
    admin = { ...stack.deps, secrets: new EnvSecrets(), allowSecretWrite: false };
    await stack.pg.query(`CREATE TABLE ${table()} (id int PRIMARY KEY, code text NOT NULL UNIQUE, label text NOT NULL)`);
    await stack.pg.query(`INSERT INTO ${table()} SELECT g, 'P-' || g, 'Part ' || g FROM generate_series(1, 12) g`);
    await stack.addDefinition({
      id: 'parts',
      table: { schema: stack.schema, name: 'parts' },
      key: ['id'],
      fields: [{ source: 'code' }, { source: 'label' }],
      cursor: { kind: 'full' },
      sharding: { strategy: 'none', list: 'Parts' },
    });
    const first = await stack.run('parts');
    expect(first.counts.created).toBe(12);
  }, 60_000);

  afterAll(() => stack?.stop());

  it('is refused with 409 naming the key, and nothing changes', async () => {
    const stored = (await stack.state.getDefinition('parts'))!;
    let caught: unknown;
    try {
      await replaceDefinition(admin, 'parts', { ...stored.definition, key: ['code'] });
    } catch (error) {
      caught = error;
    }
    expect(isSyncError(caught, 'identity_change_refused')).toBe(true);
    expect((caught as { status: number }).status).toBe(409);
    expect((caught as Error).message).toContain('rebuild=true');
    expect((caught as { details: Array<{ path: string }> }).details.map((d) => d.path)).toEqual(['key']);
    const after = (await stack.state.getDefinition('parts'))!;
    expect(after.definition.key).toEqual(['id']);
    expect(after.etag).toBe(stored.etag);
  });

  it('with rebuild, deletes the old items through the ledger and creates each row once under the new identity', async () => {
    const stored = (await stack.state.getDefinition('parts'))!;
    const oldItems = new Set(stack.items().map((i) => i.id));
    const saved = await replaceDefinition(admin, 'parts', { ...stored.definition, key: ['code'] }, undefined, { rebuild: true });
    expect(saved.rebuild).toMatchObject({ reason: expect.stringContaining('["code"]') });

    const rebuilt = await stack.run('parts');
    expect(rebuilt.status).toBe('succeeded');
    expect(rebuilt.counts).toMatchObject({ created: 12, deleted: 12 });
    expect(stack.items().filter((i) => oldItems.has(i.id))).toEqual([]);
    await assertInvariant(stack, 'parts', `SELECT * FROM ${table()}`);

    // The next pass finds no old item left and ends the rebuild; nothing more is written.
    const settled = await stack.run('parts');
    expect(settled.counts).toMatchObject({ created: 0, deleted: 0, updated: 0 });
    expect((await stack.state.getDefinition('parts'))!.rebuild).toBeNull();
    await assertInvariant(stack, 'parts', `SELECT * FROM ${table()}`);
  });
});
