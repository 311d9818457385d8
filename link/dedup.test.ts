import { describe, expect, it } from 'vitest';
import { createDedupMemory } from './dedup.js';

describe('dedup memory', () => {
  it('remembers ids it was given', () => {
    const memory = createDedupMemory();
    memory.add('r:1');
    expect(memory.has('r:1')).toBe(true);
    expect(memory.has('r:2')).toBe(false);
    expect(memory.size).toBe(1);
  });

  it('keeps at most maxEntries ids, forgetting the oldest first', () => {
    const memory = createDedupMemory({ maxEntries: 3 });
    for (let seq = 1; seq <= 5; seq++) memory.add(`r:${seq}`);
    expect(memory.size).toBe(3);
    expect(['r:1', 'r:2', 'r:3', 'r:4', 'r:5'].map((id) => memory.has(id))).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
  });

  it('forgets ids older than maxAgeMs', () => {
    let now = 1_000;
    const memory = createDedupMemory({ maxAgeMs: 100, now: () => now });
    memory.add('r:1');
    now = 1_050;
    memory.add('r:2');
    now = 1_100;
    expect(memory.has('r:1')).toBe(false);
    expect(memory.has('r:2')).toBe(true);
    now = 1_150;
    expect(memory.size).toBe(0);
  });

  it('starts from persisted entries, dropping expired and excess ones', () => {
    const memory = createDedupMemory({
      maxEntries: 2,
      maxAgeMs: 100,
      now: () => 1_000,
      entries: [
        ['old', 800],
        ['a', 950],
        ['b', 960],
        ['c', 970],
      ],
    });
    expect(memory.entries()).toEqual([
      ['b', 960],
      ['c', 970],
    ]);
  });
});
