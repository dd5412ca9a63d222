/**
 * Six-field NCRONTAB expressions as Azure Functions timers use them:
 * `{second} {minute} {hour} {day} {month} {day-of-week}`, evaluated in UTC.
 * Supports `*`, lists, ranges, steps (`*\/5`, `10-40/10`) and month/day names. As in the
 * NCrontab library behind Functions, day-of-month and day-of-week must both match.
 */

interface FieldSpec {
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: FieldSpec[] = [
  { min: 0, max: 59 },
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];
const FIELD_NAMES = ['second', 'minute', 'hour', 'day', 'month', 'day-of-week'];

export interface Schedule {
  expression: string;
  seconds: boolean[];
  minutes: boolean[];
  hours: boolean[];
  days: boolean[];
  months: boolean[];
  weekdays: boolean[];
}

export class NcrontabError extends Error {}

function parseValue(token: string, spec: FieldSpec, field: string): number {
  const upper = token.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  const value = named >= 0 ? named + spec.min : /^\d+$/.test(token) ? Number(token) : NaN;
  // Day-of-week 7 is Sunday in many cron dialects; accept it.
  const normalised = field === 'day-of-week' && value === 7 ? 0 : value;
  if (!Number.isInteger(normalised) || normalised < spec.min || normalised > spec.max) {
    throw new NcrontabError(`${field}: '${token}' is not in ${spec.min}-${spec.max}`);
  }
  return normalised;
}

function parseField(text: string, spec: FieldSpec, field: string): boolean[] {
  const set = new Array<boolean>(spec.max + 1).fill(false);
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new NcrontabError(`${field}: bad step in '${part}'`);
    let from: number;
    let to: number;
    if (range === '*') {
      from = spec.min;
      to = spec.max;
    } else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      from = parseValue(a, spec, field);
      to = parseValue(b, spec, field);
      if (to < from) throw new NcrontabError(`${field}: range '${range}' runs backwards`);
    } else {
      from = parseValue(range, spec, field);
      to = stepText === undefined ? from : spec.max;
    }
    for (let v = from; v <= to; v += step) set[v] = true;
  }
  return set;
}

export function parseNcrontab(expression: string): Schedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 6) {
    throw new NcrontabError(`expected six fields ({second} {minute} {hour} {day} {month} {day-of-week}), got ${parts.length}`);
  }
  const sets = parts.map((p, i) => parseField(p, FIELDS[i]!, FIELD_NAMES[i]!));
  return {
    expression,
    seconds: sets[0]!,
    minutes: sets[1]!,
    hours: sets[2]!,
    days: sets[3]!,
    months: sets[4]!,
    weekdays: sets[5]!,
  };
}

export function isValidNcrontab(expression: string): string | null {
  try {
    parseNcrontab(expression);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

const dayMatches = (s: Schedule, d: Date) => s.days[d.getUTCDate()] === true && s.weekdays[d.getUTCDay()] === true;

/** First occurrence strictly after `after`. */
export function nextOccurrence(schedule: Schedule, after: Date): Date {
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const limit = after.getTime() + 5 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!schedule.months[t.getUTCMonth() + 1]) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!dayMatches(schedule, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!schedule.hours[t.getUTCHours()]) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
    } else if (!schedule.minutes[t.getUTCMinutes()]) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    } else if (!schedule.seconds[t.getUTCSeconds()]) {
      t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
    } else {
      return t;
    }
  }
  throw new NcrontabError(`'${schedule.expression}' never fires`);
}

/** Latest occurrence at or before `atOrBefore`, or null if none in the past five years. */
export function previousOccurrence(schedule: Schedule, atOrBefore: Date): Date | null {
  const t = new Date(Math.floor(atOrBefore.getTime() / 1000) * 1000);
  const limit = atOrBefore.getTime() - 5 * 366 * 86_400_000;
  while (t.getTime() >= limit) {
    if (!schedule.months[t.getUTCMonth() + 1]) {
      t.setUTCDate(1);
      t.setUTCHours(0, 0, 0, 0);
      t.setTime(t.getTime() - 1000);
    } else if (!dayMatches(schedule, t)) {
      t.setUTCHours(0, 0, 0, 0);
      t.setTime(t.getTime() - 1000);
    } else if (!schedule.hours[t.getUTCHours()]) {
      t.setUTCMinutes(0, 0, 0);
      t.setTime(t.getTime() - 1000);
    } else if (!schedule.minutes[t.getUTCMinutes()]) {
      t.setUTCSeconds(0, 0);
      t.setTime(t.getTime() - 1000);
    } else if (!schedule.seconds[t.getUTCSeconds()]) {
      t.setTime(t.getTime() - 1000);
    } else {
      return t;
    }
  }
  return null;
}
