/**
 * OData system query options as Graph reads them (`$select`, `$expand`, `$top`, `$skiptoken`),
 * and the absolute paging links Graph answers with (learn.microsoft.com/graph/query-parameters,
 * /graph/paging).
 */
import type { GraphCall } from './call';
import { invalidRequest } from './errors';

const DEFAULT_PAGE_SIZE = 200;
const MAX_PAGE_SIZE = 5000;

/** An OData system query option, with or without its `$`, in any letter case. */
export function queryOption(query: URLSearchParams, name: string): string | null {
  for (const [k, v] of query) {
    const key = k.toLowerCase();
    if (key === `$${name}` || key === name) return v;
  }
  return null;
}

export function parseSelect(raw: string | null): string[] | null {
  if (raw === null || raw.trim() === '') return null;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `$expand=fields($select=a,b),columns` → name → options. */
export function parseExpand(raw: string | null, allowed: string[], type: string): Map<string, { select: string[] | null }> {
  const out = new Map<string, { select: string[] | null }>();
  if (raw === null || raw.trim() === '') return out;
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charAt(i);
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(raw.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(raw.slice(start));
  for (const part of parts) {
    const m = /^\s*([A-Za-z_.]+)\s*(?:\((.*)\))?\s*$/.exec(part);
    if (!m) throw invalidRequest(`Invalid $expand: '${part}'.`);
    const name = m[1] as string;
    if (!allowed.includes(name)) {
      throw invalidRequest(`Could not find a property named '${name}' on type 'microsoft.graph.${type}'.`);
    }
    let select: string[] | null = null;
    for (const option of (m[2] ?? '').split(';')) {
      const eq = option.indexOf('=');
      if (eq < 0) continue;
      const key = option.slice(0, eq).trim().toLowerCase();
      if (key === '$select' || key === 'select') select = parseSelect(option.slice(eq + 1));
    }
    out.set(name, { select });
  }
  return out;
}

export function parseTop(raw: string | null): number {
  if (raw === null) return DEFAULT_PAGE_SIZE;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw invalidRequest(`Invalid $top value '${raw}': use a positive whole number.`);
  return Math.min(Number(raw), MAX_PAGE_SIZE);
}

/** SharePoint's own skip token shape: base64 of `Paged=TRUE&p_ID=<last id>`. */
export function encodeSkipToken(lastId: number): string {
  return Buffer.from(`Paged=TRUE&p_ID=${lastId}`).toString('base64');
}

/** The last item id of the previous page; 0 without a token. */
export function decodeSkipToken(raw: string | null): number {
  if (raw === null) return 0;
  const text = Buffer.from(raw, 'base64').toString('utf8');
  const m = /(?:^|&)p_ID=(\d+)/.exec(text);
  if (!m) throw invalidRequest('The $skiptoken is not valid.');
  return Number(m[1]);
}

/** An absolute link to `path` with the call's query options, paging options replaced. */
export function linkTo(call: GraphCall, path: string, params: Record<string, string>): string {
  const parts: string[] = [];
  for (const [k, v] of call.query) {
    if (/^\$?(skiptoken|token)$/i.test(k)) continue;
    parts.push(`${k}=${encodeURIComponent(v)}`);
  }
  for (const [k, v] of Object.entries(params)) parts.push(`${k}=${encodeURIComponent(v)}`);
  return `${call.baseUrl}/v1.0${encodeURI(path)}${parts.length ? `?${parts.join('&')}` : ''}`;
}
