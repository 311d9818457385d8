import { describe, expect, it } from 'vitest';
import { createMemoryEventLog } from './memory-log.js';

describe('createMemoryEventLog', () => {
  it('keeps exactly maxLen events per topic', async () => {
    const log = createMemoryEventLog({ maxLen: 2, ttlMs: 60_000, batchSize: 10 });
    for (const n of [1, 2, 3]) await log.append('t', n);
    const reader = log.open('t');
    expect((await reader.read('0-0')).map((event) => event.payload)).toEqual([2, 3]);
    reader.close();
  });

  it('drops a topic nobody reads or publishes to after ttlMs, and keeps ids increasing', async () => {
    let time = 1_000;
    const log = createMemoryEventLog({ maxLen: 10, ttlMs: 100, batchSize: 10, now: () => time });
    const old = await log.append('idle', 'x');
    const reader = log.open('busy');
    time += 100;
    await log.append('other', 'y'); // publishing is what sweeps
    expect(await log.head('idle')).toBe('0-0');
    expect(await log.head('other')).not.toBe('0-0');
    const replay = log.open('idle');
    const next = replay.read(old);
    const id = await log.append('idle', 'z');
    expect(await next).toEqual([{ id, payload: 'z' }]);
    replay.close();
    reader.close();
  });

  it('returns at most batchSize events per read', async () => {
    const log = createMemoryEventLog({ maxLen: 10, ttlMs: 60_000, batchSize: 2 });
    for (const n of [1, 2, 3]) await log.append('t', n);
    const reader = log.open('t');
    expect((await reader.read('0-0')).map((event) => event.payload)).toEqual([1, 2]);
    reader.close();
    expect(await reader.read('0-0')).toEqual([]);
  });
});
