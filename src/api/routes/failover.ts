import { z } from 'zod';
import { requireDefinition } from '../../sync/definitions-admin';
import { failover } from '../../sync/failover/failover';
import { json } from '../http';
import { principalName } from '../principal';
import { apiRoute, type ApiRoute } from './route';
import { ConfigId, IdParams, ListOf, PageOf, PageQuery } from './schemas';

/** Failover of a definition between its sources, and the sources' health (DESIGN §7, §8). */

const tag = 'failover';

export const FailoverRequestSchema = z
  .object({
    to: ConfigId.meta({ description: 'connection id of the secondary to promote' }),
    cursorPolicy: z.enum(['carry', 'rescan']).meta({
      description:
        'carry: timestamp and integer cursors carry over (the next run re-reads the look-back window); rowversion only between sources declared sameDatabase, else rescan. rescan: a full pass with hash compare (unchanged rows cost no writes)',
    }),
  })
  .strict();

const CursorPolicy = z.enum(['carry', 'rescan']);

export const FailoverEventSchema = z.object({
  definitionId: z.string(),
  eventId: z.string(),
  at: z.string(),
  trigger: z.enum(['manual', 'automatic']),
  by: z.string().meta({ description: 'the admin, or `automatic`' }),
  from: z.string().meta({ description: 'connection id of the old primary' }),
  to: z.string().meta({ description: 'connection id of the new primary' }),
  cursorPolicy: CursorPolicy,
  appliedPolicy: CursorPolicy.meta({ description: 'what was applied (a rowversion cursor between different databases is rescanned)' }),
  cursorBefore: z.string().nullable(),
  cursorAfter: z.string().nullable(),
  reason: z.string(),
  runId: z.string().optional().meta({ description: 'the run started after the failover' }),
});

export const SourceHealthSchema = z.object({
  consecutiveFailures: z.number().int(),
  lastProbeAt: z.string().nullable(),
  lastSuccessAt: z.string().nullable(),
  lastFailureAt: z.string().nullable(),
  lastError: z.string().nullable(),
  lastErrorCode: z.string().nullable(),
  lagSeconds: z.number().nullable().meta({ description: 'standby replay lag where the engine reports it' }),
  serverRole: z.enum(['primary', 'standby']).nullable(),
});

export const DefinitionSourceSchema = z.object({
  connectionId: z.string(),
  role: z.enum(['primary', 'secondary']),
  priority: z.number().int(),
  health: SourceHealthSchema.nullable().meta({ description: 'null until the first probe' }),
});

export const failoverRoutes: ApiRoute[] = [
  apiRoute({
    name: 'definitionFailover',
    method: 'POST',
    route: 'definitions/{id}/failover',
    tag,
    summary: 'Make a secondary source the primary',
    description:
      'Takes the definition’s lease (waits up to FAILOVER_LEASE_WAIT_SECONDS for a running run), refuses a target that fails its probe or whose table no longer fits the mapping, flips the roles atomically, sets the cursor by the policy, records the event and starts a run.',
    params: IdParams,
    body: FailoverRequestSchema,
    responses: { 200: { description: 'the failover event', schema: FailoverEventSchema } },
    errors: [404, 409, 415, 422],
    async handle({ params, body, request, adminDeps }) {
      const deps = await adminDeps();
      const event = await failover(deps, params.id, {
        to: body.to,
        cursorPolicy: body.cursorPolicy,
        trigger: 'manual',
        by: principalName(request),
        reason: 'requested through the API',
        leaseWaitMs: deps.settings.failoverLeaseWaitMs,
      });
      return json(200, event);
    },
  }),
  apiRoute({
    name: 'definitionFailovers',
    method: 'GET',
    route: 'definitions/{id}/failovers',
    tag,
    summary: 'Failover events of a definition, newest first',
    params: IdParams,
    query: PageQuery,
    responses: { 200: { description: 'a page of failover events', schema: PageOf(FailoverEventSchema) } },
    errors: [404],
    async handle({ params, query, adminDeps }) {
      const deps = await adminDeps();
      await requireDefinition(deps, params.id);
      return json(200, await deps.state.listFailoverEvents(params.id, { limit: query.limit, next: query.next }));
    },
  }),
  apiRoute({
    name: 'definitionSources',
    method: 'GET',
    route: 'definitions/{id}/sources',
    tag,
    summary: 'The definition’s sources with their roles and health',
    description: 'Health is what the scheduler timer’s probes last saw (SOURCE_PROBE_INTERVAL_SECONDS).',
    params: IdParams,
    responses: { 200: { description: 'the sources, primary first', schema: ListOf(DefinitionSourceSchema) } },
    errors: [404],
    async handle({ params, adminDeps }) {
      const deps = await adminDeps();
      const stored = await requireDefinition(deps, params.id);
      const health = new Map((await deps.state.getSourceHealth(params.id)).map((h) => [h.sourceId, h]));
      const items = [...stored.definition.sources]
        .sort((a, b) => (a.role === b.role ? a.priority - b.priority : a.role === 'primary' ? -1 : 1))
        .map((s) => {
          const h = health.get(s.connectionId);
          const view = h ? { consecutiveFailures: h.consecutiveFailures, lastProbeAt: h.lastProbeAt, lastSuccessAt: h.lastSuccessAt, lastFailureAt: h.lastFailureAt, lastError: h.lastError, lastErrorCode: h.lastErrorCode, lagSeconds: h.lagSeconds, serverRole: h.serverRole } : null;
          return { connectionId: s.connectionId, role: s.role, priority: s.priority, health: view };
        });
      return json(200, { items });
    },
  }),
];
