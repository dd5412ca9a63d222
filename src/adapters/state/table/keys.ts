import { invalidInput, recordTooLarge } from '../common';

/**
 * Key and property encoding for Azure Table Storage.
 *
 * PartitionKey/RowKey may not contain `/ \ # ?` or control characters (U+0000–U+001F,
 * U+007F–U+009F), and are limited to 1 KiB. Definition ids, list names and lease names come
 * from admins, so every key part goes through `encodeKey`: a reversible `~XX` escape. `~` is
 * escaped too (so decoding is unambiguous) and so is `_`, our separator inside composite keys
 * such as `i_<list>_<item>` (so `a_b` + `c` can never collide with `a` + `b_c`).
 */

const MUST_ESCAPE = /[/\\#?~_\u0000-\u001f\u007f-\u009f]/g;
/** 1 KiB of UTF-16. */
const MAX_KEY_CHARS = 512;

export function encodeKey(value: string): string {
  const encoded = value.replace(MUST_ESCAPE, (c) => `~${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  if (encoded.length > MAX_KEY_CHARS) throw invalidInput(`key '${value.slice(0, 40)}…' is too long for Table Storage once escaped (${encoded.length} > ${MAX_KEY_CHARS})`);
  return encoded;
}

export function decodeKey(key: string): string {
  return key.replace(/~([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * Row keys sort ascending, so newest-first listings key rows by the time left until a far
 * future instant: a fixed width keeps lexical order equal to numeric order.
 */
const FAR_FUTURE_MS = 9_999_999_999_999;
export function invertedTime(ms: number): string {
  const clamped = Math.min(Math.max(Math.trunc(ms), 0), FAR_FUTURE_MS);
  return String(FAR_FUTURE_MS - clamped).padStart(13, '0');
}

/**
 * Strings above 64 KiB (32K UTF-16 chars) are split over numbered properties; a whole entity
 * must stay under 1 MiB, so anything larger is refused before the write with a clear error.
 *
 * Split text is stored as a JSON string literal with every non-ASCII character escaped
 * (`\uXXXX`): chunks can then never cut a character in half, the size accounting is exact, and
 * large request bodies stay ASCII (Azurite mis-decodes multi-byte characters that straddle its
 * 64 KiB read buffers). JSON documents are written ASCII-escaped for the same reason.
 */
export const TEXT_CHUNK_CHARS = 32_000;
/** Leaves ~48 KiB of the 1 MiB entity for keys, names and the small properties. */
export const MAX_ENTITY_BYTES = 1_000_000;

export type Props = Record<string, unknown>;

const asciiJson = (value: unknown): string => JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function putChunks(entity: Props, name: string, ascii: string): void {
  const parts = Math.ceil(ascii.length / TEXT_CHUNK_CHARS);
  entity[`${name}Parts`] = parts;
  for (let i = 0; i < parts; i++) entity[`${name}${i}`] = ascii.slice(i * TEXT_CHUNK_CHARS, (i + 1) * TEXT_CHUNK_CHARS);
}

function getChunks(entity: Props, name: string): string | undefined {
  const parts = entity[`${name}Parts`];
  if (typeof parts !== 'number') return undefined;
  let out = '';
  for (let i = 0; i < parts; i++) out += String(entity[`${name}${i}`] ?? '');
  return out;
}

export function putText(entity: Props, name: string, text: string | null | undefined): void {
  if (text === null || text === undefined) return;
  if (text.length <= TEXT_CHUNK_CHARS) entity[name] = text;
  else putChunks(entity, name, asciiJson(text));
}

export function getText(entity: Props, name: string): string | undefined {
  const chunks = getChunks(entity, name);
  if (chunks !== undefined) return JSON.parse(chunks) as string;
  const value = entity[name];
  return typeof value === 'string' ? value : undefined;
}

export function putJson(entity: Props, name: string, value: unknown): void {
  if (value === undefined) return;
  const json = asciiJson(value);
  if (json.length <= TEXT_CHUNK_CHARS) entity[name] = json;
  else putChunks(entity, name, json);
}

export function getJson(entity: Props, name: string): unknown {
  const text = getChunks(entity, name) ?? entity[name];
  return typeof text === 'string' ? (JSON.parse(text) as unknown) : undefined;
}

/** Approximates the service's size accounting (strings as UTF-16, names included). */
export function checkEntitySize(entity: Props, what: string): void {
  let bytes = 4;
  for (const [name, value] of Object.entries(entity)) {
    bytes += 8 + name.length * 2;
    if (typeof value === 'string') bytes += value.length * 2;
    else bytes += 8;
  }
  if (bytes > MAX_ENTITY_BYTES) throw recordTooLarge(what, Math.round(bytes / 2), MAX_ENTITY_BYTES / 2);
}

export const str = (entity: Props, name: string): string | undefined => {
  const v = entity[name];
  return typeof v === 'string' ? v : undefined;
};

export const num = (entity: Props, name: string): number => {
  const v = entity[name];
  return typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : 0;
};
