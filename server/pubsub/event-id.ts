/**
 * Event ids have the Redis Streams form `<milliseconds>-<sequence>`, in memory too, so that a
 * cursor means the same thing whichever log wrote it.
 */

/** The id before every event: a subscription starting after it replays the whole retained log. */
export const FIRST_EVENT_ID = '0-0';

const EVENT_ID = /^(\d+)-(\d+)$/;

/**
 * Checks the shape of an event id.
 * @param value - anything, e.g. a cursor read back from the store
 * @returns true for `<digits>-<digits>`
 */
export function isEventId(value: unknown): value is string {
  return typeof value === 'string' && EVENT_ID.test(value);
}

/** Compares two unsigned decimal strings of any length. */
function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Orders two event ids the way Redis orders stream entries.
 * @returns a negative number when `a` comes first, 0 when equal, positive when `b` comes first
 * @remarks Compares digit strings, so sequence numbers beyond 2^53 stay exact.
 */
export function compareEventIds(a: string, b: string): number {
  const [, msA = '0', seqA = '0'] = EVENT_ID.exec(a) ?? [];
  const [, msB = '0', seqB = '0'] = EVENT_ID.exec(b) ?? [];
  return compareDigits(msA, msB) || compareDigits(seqA, seqB);
}

/**
 * Makes strictly increasing ids from a clock, as Redis does for `XADD *`: the time in ms, and a
 * sequence for ids within one millisecond (or while the clock stands still or goes back).
 * @param now - the clock
 * @returns a function giving the next id
 */
export function createEventIdGenerator(now: () => number = Date.now): () => string {
  let lastMs = 0;
  let seq = 0;
  return () => {
    const ms = now();
    if (ms > lastMs) {
      lastMs = ms;
      seq = 0;
    } else {
      seq += 1;
    }
    return `${lastMs}-${seq}`;
  };
}
