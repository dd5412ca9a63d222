import { classify, configError, SyncError, transientError } from '../../src/core/errors';

describe('errors', () => {
  it('an unknown error is treated as transient so the host retries it', () => {
    expect(classify(new Error('boom'))).toBe('transient');
  });
  it('a config error maps to a 4xx and is never transient', () => {
    const e = configError('api', 'bad_input', 'bad');
    expect(e).toBeInstanceOf(SyncError);
    expect(e.status).toBe(400);
    expect(e.transient).toBe(false);
    expect(transientError('graph', 'throttled', 'slow down').status).toBe(503);
  });
});
