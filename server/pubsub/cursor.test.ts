import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { activeCursorTracker, createCursorTracker, runWithEventCursor } from './cursor.js';

describe('runWithEventCursor', () => {
  it('keeps the tracker across awaits until the promise fn returned settles', async () => {
    const tracker = createCursorTracker(null);
    const seen = await runWithEventCursor(tracker, async () => {
      await delay(5);
      return activeCursorTracker();
    });
    expect(seen).toBe(tracker);
    expect(activeCursorTracker()).toBeUndefined();
  });

  it('keeps a pending run’s tracker while other runs start and end', async () => {
    const slow = createCursorTracker(null);
    const pending = runWithEventCursor(slow, async () => {
      await delay(20);
      return activeCursorTracker();
    });
    const quick = createCursorTracker(null);
    expect(runWithEventCursor(quick, () => activeCursorTracker())).toBe(quick);
    await runWithEventCursor(createCursorTracker(null), async () => delay(1));
    await expect(
      runWithEventCursor(createCursorTracker(null), async () => {
        throw new Error('resolver failed');
      }),
    ).rejects.toThrow('resolver failed');
    expect(await pending).toBe(slow);
  });

  it('ends with fn: a continuation left behind by a finished run sees no tracker', async () => {
    const tracker = createCursorTracker(null);
    let later: Promise<unknown> | undefined;
    const inside = runWithEventCursor(tracker, () => {
      later = delay(5).then(() => activeCursorTracker());
      return activeCursorTracker();
    });
    expect(inside).toBe(tracker);
    expect(await later).toBeUndefined();
  });

  it('a continuation left behind sees no tracker while a later run is open', async () => {
    const first = createCursorTracker(null);
    let later: Promise<unknown> | undefined;
    runWithEventCursor(first, () => {
      later = delay(10).then(() => activeCursorTracker());
    });
    const second = createCursorTracker(null);
    const open = runWithEventCursor(second, async () => {
      await delay(30);
      return activeCursorTracker();
    });
    expect(await later).toBeUndefined();
    expect(await open).toBe(second);
  });

  it('works again after a run whose fn threw', async () => {
    expect(() =>
      runWithEventCursor(createCursorTracker(null), () => {
        throw new Error('synchronous');
      }),
    ).toThrow('synchronous');
    const tracker = createCursorTracker(null);
    const seen = await runWithEventCursor(tracker, async () => {
      await delay(1);
      return activeCursorTracker();
    });
    expect(seen).toBe(tracker);
  });
});
