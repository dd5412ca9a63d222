/// <reference types="vite/client" />

/**
 * The core modules the wizard's previews run test key values with `Buffer.isBuffer` (drivers
 * return binary keys as Buffers). The browser has none: `browser-shims.ts` answers "no".
 */
declare const Buffer: { isBuffer(value: unknown): value is Uint8Array & { toString(encoding: 'hex'): string } };
