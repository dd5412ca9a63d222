import type { Config } from '../../config';
import type { SharePointConnection } from '../../core/definitions';
import type {
  DeltaResult,
  EnsureListResult,
  ExistingColumn,
  ListInfo,
  ListItem,
  ListSpec,
  ListTarget,
  PageOptions,
  SiteInfo,
  WriteOp,
  WriteResult,
} from '../../core/ports/list-target';
import type { Secrets } from '../../core/ports/secrets';
import { tokenSourceFor } from './auth';
import { GraphTransport, type GraphTransportOptions } from './graph-client';
import { ItemWriter } from './item-writes';
import { limiterForTenant, type TenantLimiter } from './limiter';
import { ListProvisioner } from './list-provisioning';
import { GraphListReads } from './list-reads';

/**
 * The ListTarget port on Microsoft Graph v1.0 (learn.microsoft.com/graph/api/resources/list,
 * /listitem, /columndefinition, /json-batching), through `@microsoft/microsoft-graph-client`.
 *
 * Every request goes through the tenant's shared limiter, charged its SharePoint RU before it
 * is sent. Item writes always go through `$batch`; reads that fan out (SyncKey lookups) too.
 * Reads live in `list-reads.ts`, provisioning in `list-provisioning.ts`, writes in `item-writes.ts`.
 */

export interface GraphListTargetOptions extends Omit<GraphTransportOptions, 'sleep'> {
  /** Default page size for `pageItems` and `delta`. */
  pageSize?: number;
}

export class GraphListTarget implements ListTarget {
  private readonly http: GraphTransport;
  private readonly reads: GraphListReads;
  private readonly provisioner: ListProvisioner;
  private readonly writer: ItemWriter;

  constructor(opts: GraphListTargetOptions) {
    this.http = new GraphTransport(opts);
    this.reads = new GraphListReads(this.http, opts.pageSize ?? 500);
    this.provisioner = new ListProvisioner(this.http, this.reads);
    this.writer = new ItemWriter(this.http, this.reads);
  }

  get limiter(): TenantLimiter {
    return this.http.limiter;
  }

  getSite(siteRef: string): Promise<SiteInfo> {
    return this.reads.getSite(siteRef);
  }

  searchSites(query: string): Promise<SiteInfo[]> {
    return this.reads.searchSites(query);
  }

  listLists(siteId: string): Promise<ListInfo[]> {
    return this.reads.listLists(siteId);
  }

  findList(siteId: string, displayName: string): Promise<ListInfo | null> {
    return this.reads.findList(siteId, displayName);
  }

  listColumns(siteId: string, listId: string): Promise<ExistingColumn[]> {
    return this.reads.listColumns(siteId, listId);
  }

  ensureList(siteId: string, spec: ListSpec, opts: { dryRun?: boolean } = {}): Promise<EnsureListResult> {
    return this.provisioner.ensureList(siteId, spec, opts);
  }

  writeItems(siteId: string, listId: string, ops: WriteOp[]): Promise<WriteResult[]> {
    return this.writer.writeItems(siteId, listId, ops);
  }

  findBySyncKey(siteId: string, listId: string, syncKeys: string[], opts: { select?: string[] } = {}): Promise<Map<string, ListItem>> {
    return this.reads.findBySyncKey(siteId, listId, syncKeys, opts);
  }

  pageItems(siteId: string, listId: string, opts: PageOptions): AsyncIterable<ListItem[]> {
    return this.reads.pageItems(siteId, listId, opts);
  }

  delta(siteId: string, listId: string, token?: string, opts: { select?: string[] } = {}): Promise<DeltaResult> {
    return this.reads.delta(siteId, listId, token, opts);
  }

  latestDeltaToken(siteId: string, listId: string): Promise<string> {
    return this.reads.latestDeltaToken(siteId, listId);
  }

  ping(): Promise<void> {
    return this.reads.ping();
  }
}

/**
 * The adapter for a stored SharePoint connection: credentials from the connection (or the
 * emulator's static token), the tenant's limiter (the composition root's, sharing the budget
 * with other instances; else the process-wide one), the Graph base URL from settings.
 */
export async function createGraphListTarget(
  conn: SharePointConnection,
  secrets: Secrets,
  settings: Pick<Config, 'GRAPH_BASE_URL' | 'GRAPH_STATIC_TOKEN' | 'GRAPH_BUDGET_RU_PER_MINUTE' | 'GRAPH_MAX_CONCURRENCY'> & Partial<Pick<Config, 'GRAPH_MAX_INLINE_WAIT_SECONDS'>>,
  tenantLimiter?: TenantLimiter,
): Promise<GraphListTarget> {
  const tokens = await tokenSourceFor(conn, secrets, { baseUrl: settings.GRAPH_BASE_URL, staticToken: settings.GRAPH_STATIC_TOKEN });
  const limiter =
    tenantLimiter ??
    limiterForTenant(conn.tenantId, {
      budgetRuPerMinute: settings.GRAPH_BUDGET_RU_PER_MINUTE,
      maxConcurrency: settings.GRAPH_MAX_CONCURRENCY,
    });
  return new GraphListTarget({ baseUrl: settings.GRAPH_BASE_URL, tokens, limiter, maxInlineWaitMs: seconds(settings.GRAPH_MAX_INLINE_WAIT_SECONDS) });
}

function seconds(value: number | undefined): number | undefined {
  return value === undefined ? undefined : value * 1000;
}
