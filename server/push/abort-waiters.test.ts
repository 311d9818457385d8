import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onAbort } from './abort-waiters.js';

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
