import { createHash, randomUUID } from 'node:crypto';

/** A GUID derived from a seed, so that the same site gets the same id on every start. */
export function stableGuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((parseInt(h.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function newGuid(): string {
  return randomUUID();
}

/** SharePoint stores list timestamps to the second; Graph prints them without milliseconds. */
export function isoSeconds(ms: number): string {
  const second = Math.floor(ms / 1000);
  // Items written in bursts share their second: remember the last few formatted values.
  const slot = second & 63;
  if (isoCacheKeys[slot] === second) return isoCacheValues[slot] as string;
  const text = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
  isoCacheKeys[slot] = second;
  isoCacheValues[slot] = text;
  return text;
}

const isoCacheKeys: number[] = new Array<number>(64).fill(-1);
const isoCacheValues: string[] = new Array<string>(64).fill('');
