import { z } from 'zod';
import { DIFFERENCE_KINDS, REPAIR_ACTIONS } from '../../sync/drift/types';
import { ConfigId, RunId } from './schemas';

/** Request and response shapes of the drift routes (DESIGN §7, §8); the OpenAPI document is generated from them. */

export const DriftReportParams = z.object({ id: ConfigId, reportId: RunId });
export const DriftCheckRequest = z.object({ mode: z.enum(['quick', 'deep']).default('quick') }).strict();
export const DriftCheckAccepted = z.object({ reportId: z.string(), status: z.literal('queued'), statusUrl: z.string() });
export const DifferencesQuery = z.object({
  kind: z.enum(DIFFERENCE_KINDS).optional().meta({ description: 'only differences of this kind' }),
  page: z.coerce.number().int().min(0).max(999_999).default(0),
});
export const RepairRequest = z
  .object({ actions: z.array(z.enum(REPAIR_ACTIONS)).min(1).refine((a) => new Set(a).size === a.length, 'an action appears twice'), dryRun: z.boolean().default(true) })
  .strict();

const Counts = z.object(Object.fromEntries(['itemsScanned', 'ledgerEntries', ...DIFFERENCE_KINDS].map((k) => [k, z.number().int()])));
const Repair = z.object({
  repairId: z.string(),
  actions: z.array(z.enum(REPAIR_ACTIONS)),
  status: z.enum(['queued', 'running', 'done', 'failed']),
  requestedAt: z.string(),
  finishedAt: z.string().optional(),
  repaired: z.record(z.string(), z.number()),
  ruSpent: z.number().optional().describe('RU the repair spent at SharePoint (metered), once done'),
  requests: z.number().int().optional().describe('Graph requests the repair sent, once done'),
  error: z.string().optional(),
});
export const Difference = z.object({
  kind: z.enum(DIFFERENCE_KINDS),
  listId: z.string(),
  itemId: z.string(),
  identityHash: z.string().optional(),
  key: z.array(z.unknown()).optional(),
  reason: z.enum(['noSyncKey', 'unknownSyncKey', 'copyInOtherList']).optional(),
  rowSelected: z.boolean().optional(),
  ledger: z.object({ listId: z.string(), itemId: z.string().nullable() }).optional(),
  fields: z.array(z.object({ field: z.string(), source: z.unknown(), sharePoint: z.unknown() })).optional(),
});
export const DriftReportSummary = z.object({
  reportId: z.string(),
  definitionId: z.string(),
  status: z.enum(['queued', 'running', 'done', 'failed', 'refused']),
  /** `watch`: found by the delta watch after a run; a watch in which every list's delta token had expired reports as `quick` with `watchFellBack` (some lists only: `watch` with `watchFellBack`). */
  mode: z.enum(['quick', 'deep', 'watch']),
  watchFellBack: z.boolean().optional(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  counts: Counts,
  ruSpent: z.number(),
  requests: z.number(),
  error: z.string().optional(),
  repairs: z.array(Repair),
});
export const DriftReport = DriftReportSummary.extend({
  differences: z.object({ kind: z.enum(DIFFERENCE_KINDS).optional(), page: z.number().int(), pages: z.number().int(), items: z.array(Difference) }),
});
export const RepairAccepted = z.object({ dryRun: z.literal(false), repair: Repair });
export const RepairPreview = z.object({
  dryRun: z.literal(true),
  actions: z.record(z.string(), z.object({ wouldRepair: z.number().int(), examples: z.array(Difference) })),
});
