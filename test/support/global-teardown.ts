export default async function globalTeardown(): Promise<void> {
  const services = ((globalThis as Record<string, unknown>).__services ?? []) as Array<{ stop(): Promise<void> }>;
  await Promise.all(services.map((s) => s.stop()));
}
