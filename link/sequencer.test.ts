import { describe, expect, it } from 'vitest';
import type { Envelope, EnvelopeType } from '../protocol/index.js';
import { createSequencer } from './sequencer.js';

const envelope = (seq: number, type: EnvelopeType = 'next'): Envelope => ({
  v: 1,
  id: `r1:${seq}`,
  tab: 't1',
  reg: 'r1',
  seq,
  type,
  ...(type === 'next' ? { payload: { data: { n: seq } } } : {}),
});

const seqs = (list: Envelope[]) => list.map((e) => e.seq);

describe('sequencer', () => {
  it('hands on envelopes that arrive in order at once', () => {
    const s = createSequencer();
    expect(seqs(s.offer(envelope(1)).ready)).toEqual([1]);
    expect(seqs(s.offer(envelope(2)).ready)).toEqual([2]);
    expect(s.lastSeq).toBe(2);
    expect(s.hasGap()).toBe(false);
  });

  it('restores order when seqs arrive 5, 4, 3, 2, 1', () => {
    const s = createSequencer();
    const ready: Envelope[] = [];
    for (const seq of [5, 4, 3, 2]) {
      const result = s.offer(envelope(seq));
      expect(result.status).toBe('held');
      ready.push(...result.ready);
    }
    expect(s.held).toBe(4);
    expect(s.hasGap()).toBe(true);
    const last = s.offer(envelope(1));
    expect(last.status).toBe('ready');
    expect(seqs([...ready, ...last.ready])).toEqual([1, 2, 3, 4, 5]);
    expect(s.held).toBe(0);
  });

  it('drops a seq already handed on or already held', () => {
    const s = createSequencer();
    s.offer(envelope(1));
    expect(s.offer(envelope(1))).toEqual({ status: 'duplicate', ready: [] });
    s.offer(envelope(3));
    expect(s.offer(envelope(3))).toEqual({ status: 'duplicate', ready: [] });
    expect(s.held).toBe(1);
  });

  it('starts after the given lastSeq', () => {
    const s = createSequencer({ lastSeq: 7 });
    expect(s.offer(envelope(7)).status).toBe('duplicate');
    expect(seqs(s.offer(envelope(8)).ready)).toEqual([8]);
  });

  it('holds a ref as a placeholder until the same seq arrives with its payload', () => {
    const s = createSequencer();
    expect(s.offer(envelope(1, 'ref')).status).toBe('held');
    expect(s.offer(envelope(2)).status).toBe('held');
    expect(s.hasRef()).toBe(true);
    expect(s.offer(envelope(1, 'ref')).status).toBe('duplicate');
    const filled = s.offer(envelope(1));
    expect(seqs(filled.ready)).toEqual([1, 2]);
    expect(filled.ready[0]?.type).toBe('next');
    expect(s.hasRef()).toBe(false);
  });

  it('ends with complete or error and ignores everything after', () => {
    const s = createSequencer();
    s.offer(envelope(3));
    expect(seqs(s.offer(envelope(2, 'error')).ready)).toEqual([]);
    const result = s.offer(envelope(1));
    expect(seqs(result.ready)).toEqual([1, 2]);
    expect(s.done).toBe(true);
    expect(s.held).toBe(0);
    expect(s.offer(envelope(4)).status).toBe('done');
  });

  it('keeps at most maxHeld envelopes, dropping the farthest ahead', () => {
    const s = createSequencer({ maxHeld: 3 });
    for (const seq of [3, 9, 4]) expect(s.offer(envelope(seq)).status).toBe('held');
    expect(s.offer(envelope(10)).status).toBe('overflow');
    // 2 displaces 9, the farthest ahead.
    expect(s.offer(envelope(2)).status).toBe('held');
    expect(s.held).toBe(3);
    expect(s.target).toBe(10);
    expect(seqs(s.offer(envelope(1)).ready)).toEqual([1, 2, 3, 4]);
    expect(s.hasGap()).toBe(true);
  });

  it('knows of a gap the server reports before any envelope shows it', () => {
    const s = createSequencer({ lastSeq: 2 });
    s.noteSeq(2);
    expect(s.hasGap()).toBe(false);
    s.noteSeq(4);
    expect(s.hasGap()).toBe(true);
    expect(s.target).toBe(4);
  });

  it('skips seqs the log lost and still hands on held ones in order', () => {
    const s = createSequencer();
    s.offer(envelope(2));
    s.offer(envelope(5));
    const skip = s.skipMissing(5);
    // 1, 3 and 4 are lost; 2 and 5 were held.
    expect(skip.skipped).toBe(3);
    expect(seqs(skip.ready)).toEqual([2, 5]);
    expect(s.lastSeq).toBe(5);
    expect(s.hasGap()).toBe(false);
  });
});
