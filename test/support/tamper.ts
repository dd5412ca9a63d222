import type { Stack } from './stack';

/** Graph requests as a person makes them (straight to the emulator over HTTP), for tests that tamper with the lists. */
export function graphAsPerson(stack: Pick<Stack, 'emulator' | 'siteId'>) {
  return async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${stack.emulator.url}/v1.0/sites/${stack.siteId}${path}`, {
      method,
      headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status >= 400) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? null : ((await response.json()) as { id: string });
  };
}
