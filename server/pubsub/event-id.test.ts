import { describe, expect, it } from 'vitest';
import { compareEventIds, createEventIdGenerator, isEventId } from './event-id.js';

describe('event ids', () => {
  it('orders ids by time, then sequence, as numbers', () => {
    const ids = ['10-0', '9-5', '10-10', '10-2', '0-0', '100-0'];
    expect([...ids].sort(compareEventIds)).toEqual([
      '0-0',
      '9-5',
      '10-0',
      '10-2',
      '10-10',
      '100-0',
    ]);
  });

  it('compares sequences past 2^53 exactly', () => {
    expect(compareEventIds('1-9007199254740993', '1-9007199254740992')).toBeGreaterThan(0);
    expect(compareEventIds('1-18446744073709551615', '1-18446744073709551615')).toBe(0);
  });

  it('makes strictly increasing ids even when the clock stands still or goes back', () => {
    const times = [5, 5, 5, 4, 6];
    const next = createEventIdGenerator(() => times.shift() ?? 0);
    expect([next(), next(), next(), next(), next()]).toEqual(['5-0', '5-1', '5-2', '5-3', '6-0']);
  });

  it('accepts only `<digits>-<digits>`', () => {
    expect(['1-0', '1700000000000-12'].every(isEventId)).toBe(true);
    expect(['1', '1-', '-1', 'a-1', '1-1-1', '', 1].some(isEventId)).toBe(false);
  });
});
