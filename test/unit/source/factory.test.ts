import { configHash, resolveCredentials, SourcePoolCache } from '../../../src/adapters/source';
import { EnvSecrets } from '../../../src/adapters/secrets/env';
import type { SourceConnection } from '../../../src/core/definitions';

/** How a source connection record and its secret become driver credentials (no database needed). */

const pgConn: SourceConnection = { id: 'pg1', engine: 'postgres', host: 'db.example', port: 5432, database: 'shop', user: 'sync', secretRef: 'pg1-secret' };

describe('source connection secrets', () => {
  it('a plain password is used as is, whatever characters it holds', () => {
    expect(resolveCredentials(pgConn, "p@ss:w/o'rd;")).toEqual({ user: 'sync', password: "p@ss:w/o'rd;" });
  });

  it('a PostgreSQL URL secret gives its (percent-decoded) password', () => {
    expect(resolveCredentials(pgConn, 'postgres://sync:p%40ss%2Fword@db.example:5432/shop')).toEqual({ user: 'sync', password: 'p@ss/word' });
    expect(resolveCredentials(pgConn, 'postgresql://:only-password@db.example')).toEqual({ user: 'sync', password: 'only-password' });
  });

  it('a URL secret naming another host, database or user is refused without echoing the secret', () => {
    for (const secret of ['postgres://sync:hunter2@elsewhere/shop', 'postgres://sync:hunter2@db.example/other', 'postgres://admin:hunter2@db.example/shop']) {
      let err: unknown;
      try {
        resolveCredentials(pgConn, secret);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'secret_mismatch', errorClass: 'config' });
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('the pool identity changes with the record or the secret, never exposing the secret', () => {
    const a = configHash(pgConn, 'one');
    expect(configHash(pgConn, 'one')).toBe(a);
    expect(configHash(pgConn, 'two')).not.toBe(a);
    expect(configHash({ ...pgConn, port: 6432 }, 'one')).not.toBe(a);
    expect(a).not.toContain('one');
  });

  it('evicting a connection closes its pool and forgets it', async () => {
    const cache = new SourcePoolCache();
    const db = await cache.get({ ...pgConn, host: '127.0.0.1', port: 1 }, new EnvSecrets({ SECRET_PG1_SECRET: 'x' }));
    expect(cache.size).toBe(1);
    const close = jest.spyOn(db, 'close');
    await cache.evict('pg1');
    expect(close).toHaveBeenCalled();
    expect(cache.size).toBe(0);
  });
});
