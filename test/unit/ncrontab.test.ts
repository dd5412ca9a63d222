import { isValidNcrontab, nextOccurrence, parseNcrontab, previousOccurrence } from '../../src/core/ncrontab';

const at = (iso: string) => new Date(iso);

describe('six-field NCRONTAB schedules', () => {
  it('every minute fires at second 0 of the next minute', () => {
    expect(nextOccurrence(parseNcrontab('0 * * * * *'), at('2026-01-01T10:00:30Z')).toISOString()).toBe('2026-01-01T10:01:00.000Z');
  });
  it('steps, ranges and names work as in Azure Functions', () => {
    const s = parseNcrontab('0 */15 9-17 * * Mon-Fri');
    // Saturday 2026-01-03 → next is Monday 09:00.
    expect(nextOccurrence(s, at('2026-01-03T12:00:00Z')).toISOString()).toBe('2026-01-05T09:00:00.000Z');
    expect(nextOccurrence(s, at('2026-01-05T09:00:00Z')).toISOString()).toBe('2026-01-05T09:15:00.000Z');
    expect(nextOccurrence(s, at('2026-01-05T17:45:00Z')).toISOString()).toBe('2026-01-06T09:00:00.000Z');
  });
  it('the latest slot at or before a time is found for coalescing missed runs', () => {
    const s = parseNcrontab('0 30 2 * * *');
    expect(previousOccurrence(s, at('2026-03-10T01:00:00Z'))?.toISOString()).toBe('2026-03-09T02:30:00.000Z');
    expect(previousOccurrence(s, at('2026-03-10T02:30:00Z'))?.toISOString()).toBe('2026-03-10T02:30:00.000Z');
    expect(previousOccurrence(parseNcrontab('0 0 0 1 Jan *'), at('2026-06-01T00:00:00Z'))?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });
  it('a five-field (Unix) expression is refused with a message naming the format', () => {
    expect(isValidNcrontab('* * * * *')).toMatch(/six fields/);
    expect(isValidNcrontab('0 61 * * * *')).toMatch(/minute/);
    expect(isValidNcrontab('0 0 12 * * *')).toBeNull();
  });
});
