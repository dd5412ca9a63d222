import { configError } from '../../core/errors';
import type { ColumnSpec, EnsureListResult, ListInfo, ListSpec } from '../../core/ports/list-target';
import { planColumns, toGraphColumn, validateSpec, withSyncKey } from './columns';
import type { GraphTransport } from './graph-client';
import { graphStatusOf, MODULE, toSyncError } from './graph-errors';
import { listPath, sitePath, toList, type Json } from './graph-resources';
import type { GraphListReads } from './list-reads';
import { RU_COST } from './limiter';

/**
 * List provisioning (learn.microsoft.com/graph/api/list-create, /columndefinition-create):
 * create the list with its columns, or add the columns an existing list lacks. Idempotent, and
 * safe when an earlier attempt's answer was lost or another instance raced it.
 */

/** Columns SharePoint's generic list template brings with it (lower-case internal names). */
const BUILT_IN_COLUMNS = new Set(
  ['Title', 'ID', 'Created', 'Modified', 'Author', 'Editor', 'Attachments', 'ContentType', 'LinkTitle', 'LinkTitleNoMenu', 'Edit', '_UIVersionString', 'ItemChildCount', 'FolderChildCount'].map((n) => n.toLowerCase()),
);

export class ListProvisioner {
  constructor(
    private readonly http: GraphTransport,
    private readonly reads: GraphListReads,
  ) {}

  async ensureList(siteId: string, spec: ListSpec, opts: { dryRun?: boolean } = {}): Promise<EnsureListResult> {
    const dryRun = opts.dryRun === true;
    const displayName = spec.displayName.trim();
    if (!displayName || displayName.length > 255) throw configError(MODULE, 'invalid_list_name', 'a list display name is 1 to 255 characters');
    const wanted = withSyncKey(spec.columns);
    wanted.forEach(validateSpec);

    let list = await this.reads.findList(siteId, displayName);
    let created = false;
    if (!list) {
      // Columns every generic list already has (Title) are not created, only checked below.
      const own = wanted.filter((c) => !BUILT_IN_COLUMNS.has(c.name.toLowerCase()));
      if (dryRun) return { list: null, created: true, columnsToAdd: own, added: [], conflicts: [], dryRun };
      list = await this.createList(siteId, displayName, own);
      created = list !== null;
      // Someone created it between our look and our create: carry on as for an existing list.
      list ??= await this.reads.findList(siteId, displayName);
      if (!list) throw toSyncError({ status: 409, code: 'nameAlreadyExists', message: 'the list exists but cannot be found' }, `creating list '${displayName}'`);
      if (created) {
        // Check what the new list really has: built-in columns may not fit the spec, and a
        // service that dropped a column from the create body must not go unnoticed.
        const { toAdd, conflicts } = planColumns(wanted, await this.reads.listColumns(siteId, list.id));
        for (const column of conflicts.length > 0 ? [] : toAdd) await this.addColumn(siteId, list.id, column);
        const added = [...own.filter((c) => !toAdd.includes(c)), ...(conflicts.length > 0 ? [] : toAdd)];
        return { list, created, columnsToAdd: [...own, ...toAdd.filter((c) => !own.includes(c))], added, conflicts, dryRun };
      }
    }

    const { toAdd, conflicts } = planColumns(wanted, await this.reads.listColumns(siteId, list.id));
    // With a conflict nothing is changed: half-provisioning a list the admin must fix anyway
    // would only leave more to undo.
    if (dryRun || conflicts.length > 0) return { list, created: false, columnsToAdd: toAdd, added: [], conflicts, dryRun };
    const added: ColumnSpec[] = [];
    for (const column of toAdd) {
      await this.addColumn(siteId, list.id, column);
      added.push(column);
    }
    return { list, created: false, columnsToAdd: toAdd, added, conflicts: [], dryRun };
  }

  /** Returns null when a list of that name turns out to exist already (409, and it can be found). */
  private async createList(siteId: string, displayName: string, columns: ColumnSpec[]): Promise<ListInfo | null> {
    try {
      const body = { displayName, columns: columns.map(toGraphColumn), list: { template: 'genericList' } };
      const created = await this.http.call<Json>({ method: 'POST', path: `${sitePath(siteId)}/lists`, body, ru: RU_COST.write }, `creating list '${displayName}'`);
      return toList(created);
    } catch (error) {
      // 409 is also what a repeated create (first answer lost) or a concurrent one gets.
      if (graphStatusOf(error) === 409 && (await this.reads.findList(siteId, displayName))) return null;
      throw error;
    }
  }

  private async addColumn(siteId: string, listId: string, column: ColumnSpec): Promise<void> {
    try {
      await this.http.call({ method: 'POST', path: `${listPath(siteId, listId)}/columns`, body: toGraphColumn(column), ru: RU_COST.write }, `adding column '${column.name}'`);
    } catch (error) {
      // A repeat of a create whose answer was lost: fine if the column now matches.
      if (graphStatusOf(error) !== 409) throw error;
      const { toAdd, conflicts } = planColumns([column], await this.reads.listColumns(siteId, listId));
      if (toAdd.length > 0 || conflicts.length > 0) throw error;
    }
  }
}
