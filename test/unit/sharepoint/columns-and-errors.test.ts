import { fromGraphColumn, planColumns, SYNC_KEY_SPEC, toGraphColumn, validateSpec, withSyncKey } from '../../../src/adapters/sharepoint/columns';
import { failureFromThrown, fieldNamedIn, isListViewThreshold, toSyncError } from '../../../src/adapters/sharepoint/graph-errors';
import type { ExistingColumn } from '../../../src/core/ports/list-target';
import { SYNC_KEY_COLUMN } from '../../../src/core/ports/list-target';

const existing = (over: Partial<ExistingColumn>): ExistingColumn => ({
  id: 'x',
  name: 'Col',
  displayName: 'Col',
  type: 'text',
  maxLength: 255,
  indexed: false,
  enforceUniqueValues: false,
  hidden: false,
  required: false,
  readOnly: false,
  ...over,
});

describe('list columns', () => {
  it('every list spec gets the hidden, indexed, unique SyncKey column sized for a SHA-256 hex hash', () => {
    const cols = withSyncKey([{ name: 'Amount', type: 'number' }]);
    expect(cols[0]).toBe(SYNC_KEY_SPEC);
    expect(toGraphColumn(SYNC_KEY_SPEC)).toEqual({
      name: SYNC_KEY_COLUMN,
      displayName: SYNC_KEY_COLUMN,
      text: { allowMultipleLines: false, maxLength: 64 },
      indexed: true,
      enforceUniqueValues: true,
      hidden: true,
    });
    // A caller's own SyncKey cannot weaken it.
    expect(withSyncKey([{ name: 'synckey', type: 'text', maxLength: 10 }])).toEqual([SYNC_KEY_SPEC]);
  });

  it('round-trips each column type through Graph columnDefinition JSON', () => {
    const specs = [
      { name: 'T', type: 'text' as const, maxLength: 80 },
      { name: 'N', type: 'note' as const },
      { name: 'Num', type: 'number' as const, decimalPlaces: 2 },
      { name: 'Cur', type: 'currency' as const },
      { name: 'B', type: 'boolean' as const },
      { name: 'D', type: 'dateTime' as const },
      { name: 'DO', type: 'dateOnly' as const },
      { name: 'C', type: 'choice' as const, choices: ['a', 'b'] },
    ];
    for (const spec of specs) {
      const back = fromGraphColumn({ id: '1', ...toGraphColumn(spec) });
      expect(back.type).toBe(spec.type);
      expect(planColumns([spec], [back])).toEqual({ toAdd: [], conflicts: [] });
    }
  });

  it('reports columns that cannot hold what we would write, and adds the missing ones', () => {
    const plan = planColumns(
      [
        { name: 'Amount', type: 'number' },
        { name: 'Code', type: 'text', maxLength: 100 },
        { name: 'Status', type: 'choice', choices: ['open', 'closed'] },
        SYNC_KEY_SPEC,
        { name: 'New', type: 'boolean' },
      ],
      [
        existing({ name: 'amount', type: 'text' }),
        existing({ name: 'Code', maxLength: 50 }),
        existing({ name: 'Status', type: 'choice', choices: ['open'] }),
        existing({ name: 'SyncKey', maxLength: 64, indexed: true }),
      ],
    );
    expect(plan.toAdd.map((c) => c.name)).toEqual(['New']);
    expect(plan.conflicts.map((c) => [c.column, c.reason])).toEqual([
      ['Amount', "the existing column is of type 'text', not 'number'"],
      ['Code', 'the existing column holds at most 50 characters, 100 are needed'],
      ['Status', "the existing column lacks the choices 'closed'"],
      ['SyncKey', 'the existing column does not enforce unique values'],
    ]);
  });

  it('refuses specs SharePoint would refuse before sending anything', () => {
    expect(() => validateSpec({ name: 'has space', type: 'text' })).toThrow(/name/);
    expect(() => validateSpec({ name: 'Long', type: 'text', maxLength: 300 })).toThrow(/note/);
    expect(() => validateSpec({ name: 'C', type: 'choice', choices: [] })).toThrow(/choice/);
    expect(() => validateSpec({ name: 'N', type: 'note', indexed: true })).toThrow(/indexed/);
  });
});

describe('Graph error mapping', () => {
  it('finds the field Graph names in its message', () => {
    expect(fieldNamedIn("Field 'Amount' expects a number, not the text 'abc'.", ['Title', 'Amount'])).toBe('Amount');
    expect(fieldNamedIn("Field 'amount' is not recognized", ['Amount'])).toBe('Amount');
    expect(fieldNamedIn("The value for 'Due' is not a date", ['Title', 'Due'])).toBe('Due');
    expect(fieldNamedIn('Invalid request', ['Title'])).toBeUndefined();
  });

  it('a lost connection is a transient failure with status 0; auth refusals are config errors', () => {
    const network = failureFromThrown(Object.assign(new Error(''), { statusCode: -1, cause: { code: 'ECONNRESET' } }));
    expect(network.status).toBe(0);
    expect(network.message).toMatch(/ECONNRESET/);
    expect(toSyncError(network, 'x').errorClass).toBe('transient');
    expect(toSyncError({ status: 403, code: 'accessDenied', message: 'no' }, 'x').errorClass).toBe('config');
    expect(toSyncError({ status: 401, code: 'InvalidAuthenticationToken', message: 'no' }, 'x').code).toBe('graph_unauthorized');
    expect(toSyncError({ status: 429, code: 'activityLimitReached', message: 'slow', retryAfterMs: 3000 }, 'x').retryAfterMs).toBe(3000);
  });

  it('a query past the list view threshold is a config error, whatever status carries it', () => {
    const failure = { status: 500, code: 'generalException', message: 'The attempted operation is prohibited because it exceeds the list view threshold.' };
    expect(isListViewThreshold(failure)).toBe(true);
    const error = toSyncError(failure, 'reading');
    expect(error.code).toBe('list_view_threshold');
    expect(error.errorClass).toBe('config');
  });
});
