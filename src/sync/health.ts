/** Reachability of each dependency, checked in parallel, each under its own timeout. */
export type Probe = () => Promise<void>;

export interface CheckResult {
  status: 'ok' | 'failed';
  latencyMs: number;
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: Record<string, CheckResult>;
}

export async function checkHealth(probes: Record<string, Probe>, timeoutMs = 5000): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(probes).map(async ([name, probe]): Promise<[string, CheckResult]> => {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          probe(),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
        ]);
        return [name, { status: 'ok', latencyMs: Date.now() - started }];
      } catch (error) {
        return [name, { status: 'failed', latencyMs: Date.now() - started, error: (error as Error).message.slice(0, 300) }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const checks = Object.fromEntries(entries);
  return { status: entries.every(([, r]) => r.status === 'ok') ? 'ok' : 'degraded', checks };
}
