import { describe, expect, it } from 'vitest';
import type { Envelope } from '../protocol/index.js';
import { createPendingBuffer } from './pending.js';

const envelope = (reg: string, seq: number): Envelope => ({
  v: 1,
  id: `${reg}:${seq}`,
  tab: 't',
  reg,
  seq,
  type: 'next',
  payload: { data: {} },
});

describe('pending buffer', () => {
  it('returns the envelopes of one registration, oldest first, and keeps the others', () => {
    const buffer = createPendingBuffer();
    buffer.add(envelope('a', 2));
    buffer.add(envelope('b', 1));
    buffer.add(envelope('a', 1));
    expect(buffer.take('a').map((e) => e.id)).toEqual(['a:2', 'a:1']);
    expect(buffer.take('a')).toEqual([]);
    expect(buffer.size).toBe(1);
  });

  it('keeps at most maxEntries, dropping the oldest', () => {
    const buffer = createPendingBuffer({ maxEntries: 2 });
    buffer.add(envelope('a', 1));
    buffer.add(envelope('a', 2));
    buffer.add(envelope('a', 3));
    expect(buffer.take('a').map((e) => e.seq)).toEqual([2, 3]);
  });

  it('forgets envelopes older than maxAgeMs', () => {
    let now = 0;
    const buffer = createPendingBuffer({ maxAgeMs: 10_000, now: () => now });
    buffer.add(envelope('a', 1));
    now = 5_000;
    buffer.add(envelope('a', 2));
    now = 10_000;
    expect(buffer.size).toBe(1);
    expect(buffer.take('a').map((e) => e.seq)).toEqual([2]);
  });
});
