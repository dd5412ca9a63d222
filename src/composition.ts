import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { StorageQueueBus } from './adapters/bus/storage-queue-bus';
import { ServiceBusBus } from './adapters/bus/service-bus';
import { config, type Config } from './config';
import type { MessageBus } from './core/ports/bus';
import type { Probe } from './sync/health';

/**
 * The composition root: the one place that turns settings into adapters. Function modules and
 * the local host both get their collaborators from here, built lazily and once per process.
 */
export interface Services {
  config: Config;
  version: string;
  credential(): TokenCredential;
  bus(): MessageBus;
  probes(): Record<string, Probe>;
}

let current: Services | undefined;

export function services(): Services {
  current ??= createServices(config());
  return current;
}

/** Tests and hosts may install their own wiring (e.g. after changing settings). */
export function setServices(next: Services | undefined): void {
  current = next;
}

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
}

export function createServices(cfg: Config): Services {
  const credential = once<TokenCredential>(() => new DefaultAzureCredential());
  const bus = once<MessageBus>(() => {
    if (cfg.QUEUE_TRANSPORT === 'storage') return new StorageQueueBus(cfg.AzureWebJobsStorage!);
    if (cfg.ServiceBusConnection) return new ServiceBusBus({ connectionString: cfg.ServiceBusConnection });
    return new ServiceBusBus({ fullyQualifiedNamespace: cfg.ServiceBusConnection__fullyQualifiedNamespace!, credential: credential() });
  });
  const s: Services = {
    config: cfg,
    version: process.env.npm_package_version ?? '1.0.0',
    credential,
    bus,
    probes: () => ({
      config: async () => undefined,
      queues: () => bus().ping(),
      graph: () => pingGraph(cfg.GRAPH_BASE_URL),
    }),
  };
  return s;
}

/** Any HTTP answer (even 401 without a token) proves the Graph endpoint is reachable. */
async function pingGraph(baseUrl: string): Promise<void> {
  const response = await fetch(new URL('/v1.0/$metadata', baseUrl), { method: 'HEAD', signal: AbortSignal.timeout(4000) });
  await response.body?.cancel();
}
