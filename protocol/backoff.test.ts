import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { backoffDelay, onAbort, sleep } from './backoff.js';

describe('backoffDelay', () => {
  const half = () => 0.5;

  it('doubles the ceiling per attempt and draws uniformly below it', () => {
    const options = { baseMs: 200, maxMs: 30_000, random: half };
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(attempt, options))).toEqual([
      100, 200, 400, 800,
    ]);
  });

  it('never waits past the maximum, even after very many attempts', () => {
    expect(backoffDelay(20, { baseMs: 200, maxMs: 30_000, random: () => 0.999_999 })).toBe(29_999);
    expect(backoffDelay(5_000, { baseMs: 200, maxMs: 30_000, jitter: 'none' })).toBe(30_000);
  });

  it('waits the ceiling itself without jitter, and counts attempt 0 as the first', () => {
    expect(backoffDelay(0, { baseMs: 100, maxMs: 5_000, jitter: 'none' })).toBe(100);
    expect(backoffDelay(3, { baseMs: 100, maxMs: 5_000, jitter: 'none' })).toBe(400);
  });
});

describe('onAbort', () => {
  it('wakes every waiter of a signal through one abort listener', () => {
    const controller = new AbortController();
    const woken: number[] = [];
    for (let i = 0; i < 50; i += 1) onAbort(controller.signal, () => woken.push(i));

    expect(getEventListeners(controller.signal, 'abort').length).toBe(1);
    controller.abort();

    expect(woken).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(getEventListeners(controller.signal, 'abort').length).toBe(0);
  });

  it('does not wake a waiter that stopped watching, and drops the listener with the last one', () => {
    const controller = new AbortController();
    let woken = 0;
    const stops = Array.from({ length: 3 }, () => onAbort(controller.signal, () => woken++));
    stops[0]?.();
    stops[1]?.();
    expect(getEventListeners(controller.signal, 'abort').length).toBe(1);
    stops[2]?.();
    expect(getEventListeners(controller.signal, 'abort').length).toBe(0);

    onAbort(controller.signal, () => woken++);
    controller.abort();
    expect(woken).toBe(1);
  });

  it('wakes at once on a signal that is already aborted', () => {
    let woken = 0;
    onAbort(AbortSignal.abort(), () => woken++);
    expect(woken).toBe(1);
  });
});

describe('sleep', () => {
  it('ends early when its signal aborts, and leaves no listener behind', async () => {
    const controller = new AbortController();
    const waits = Array.from({ length: 20 }, () => sleep(60_000, controller.signal));
    expect(getEventListeners(controller.signal, 'abort').length).toBe(1);
    controller.abort();
    await Promise.all(waits);
    expect(getEventListeners(controller.signal, 'abort').length).toBe(0);
  });

  it('waits its time without a signal', async () => {
    const started = performance.now();
    await sleep(20);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });
});
