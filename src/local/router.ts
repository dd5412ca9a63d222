import type { HttpFunction, HttpMethod } from '../runtime/function-table';

/**
 * Route templates as Azure Functions understands them: literal segments, `{name}`,
 * optional `{name?}`, constrained `{name:int}`, catch-all `{*rest}`. A segment may mix
 * parameters and literals, e.g. `{schema}.{table}`.
 */
interface CompiledRoute {
  fn: HttpFunction;
  pattern: RegExp;
  names: string[];
  literalWeight: number;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compileRoute(fn: HttpFunction): CompiledRoute {
  const names: string[] = [];
  let literalWeight = 0;
  const segments = fn.route.replace(/^\/+|\/+$/g, '').split('/');
  let source = '';
  for (const segment of segments) {
    const catchAll = /^\{\*(\w+)\}$/.exec(segment);
    if (catchAll) {
      names.push(catchAll[1]!);
      source += '(?:/(.*))?';
      continue;
    }
    const optional = /^\{(\w+)(?::\w+)?\?\}$/.exec(segment);
    if (optional) {
      names.push(optional[1]!);
      source += '(?:/([^/]+))?';
      continue;
    }
    let piece = '';
    let last = 0;
    for (const m of segment.matchAll(/\{(\w+)(?::(\w+))?\}/g)) {
      piece += escapeRegex(segment.slice(last, m.index));
      names.push(m[1]!);
      piece += m[2] === 'int' ? '(-?\\d+)' : piece === '' && m.index + m[0].length === segment.length ? '([^/]+)' : '([^/]+?)';
      last = m.index + m[0].length;
    }
    const tail = segment.slice(last);
    literalWeight += segment.length - (segment.match(/\{[^}]*\}/g) ?? []).join('').length;
    piece += escapeRegex(tail);
    source += '/' + piece;
  }
  return { fn, pattern: new RegExp(`^${source}/?$`, 'i'), names, literalWeight };
}

export interface RouteMatch {
  fn: HttpFunction;
  params: Record<string, string>;
}

export class Router {
  private readonly routes: CompiledRoute[];

  constructor(functions: HttpFunction[]) {
    // Literal-heavy routes first, so `definitions/runs` beats `definitions/{id}`.
    this.routes = functions.map(compileRoute).sort((a, b) => b.literalWeight - a.literalWeight);
  }

  /** `path` is the part after `/api`. Returns the match, or which methods the path allows. */
  match(method: string, path: string): RouteMatch | { allowed: HttpMethod[] } | null {
    const allowed = new Set<HttpMethod>();
    const normalised = '/' + path.replace(/^\/+/, '');
    for (const route of this.routes) {
      const m = route.pattern.exec(normalised === '/' ? '' : normalised);
      if (!m) continue;
      if (!route.fn.methods.includes(method.toUpperCase() as HttpMethod)) {
        route.fn.methods.forEach((x) => allowed.add(x));
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        const value = m[i + 1];
        if (value !== undefined) params[name] = decodeURIComponent(value);
      });
      return { fn: route.fn, params };
    }
    return allowed.size ? { allowed: [...allowed] } : null;
  }
}
