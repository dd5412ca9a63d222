/**
 * The core's key normalisation asks `Buffer.isBuffer(value)`; no value in a browser is a Buffer,
 * so the console answers that question once at start instead of bundling Node's Buffer.
 */
if (!('Buffer' in globalThis)) Object.defineProperty(globalThis, 'Buffer', { value: { isBuffer: () => false } });
export {};
