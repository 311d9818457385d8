import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { backoffDelay, classifyStatus, parseRetryAfter, sleepUnlessAborted } from './retry.js';

describe('classifyStatus', () => {
  it.each([
    [200, 'ok'],
    [201, 'ok'],
    [202, 'ok'],
    [301, 'failed'],
    [307, 'failed'],
    [400, 'failed'],
    [401, 'failed'],
    [403, 'failed'],
    [404, 'gone'],
    [410, 'gone'],
    [413, 'too-large'],
    [429, 'rate-limited'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
  ] as const)('%i is %s', (status, outcome) => {
    expect(classifyStatus(status)).toBe(outcome);
  });
});

describe('backoffDelay (exponential, full jitter)', () => {
  it('doubles the ceiling per attempt and scales it by the random draw', () => {
    const half = () => 0.5;
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(attempt, 200, 30_000, half))).toEqual([
      100, 200, 400, 800,
    ]);
  });

  it('never exceeds maxMs', () => {
    expect(backoffDelay(20, 200, 30_000, () => 0.999_999)).toBe(29_999);
  });

  it('can wait 0 when the draw is 0', () => {
    expect(backoffDelay(3, 200, 30_000, () => 0)).toBe(0);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

  it.each([
    ['3', 3_000],
    [' 120 ', 120_000],
    ['0', 0],
    ['Wed, 21 Oct 2015 07:28:05 GMT', 5_000],
    ['Wednesday, 21-Oct-15 07:28:07 GMT', 7_000],
    ['Wed, 21 Oct 2015 07:27:00 GMT', 0],
  ])('%j waits %i ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it.each([undefined, '', '-1', '1.5', 'soon', '2015-10-21T07:28:05Z'])(
    '%j is not a Retry-After value',
    (value) => {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    },
  );
});

describe('sleepUnlessAborted', () => {
  it('ends a long wait as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const wait = sleepUnlessAborted(600_000, controller.signal);
    controller.abort();
    await expect(wait).resolves.toBeUndefined();
  });

  it('does not wait at all on an aborted signal', async () => {
    await expect(sleepUnlessAborted(600_000, AbortSignal.abort())).resolves.toBeUndefined();
  });

  it('shares one abort listener among 100 waits on one signal, with no warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const waits = Array.from({ length: 100 }, () =>
        sleepUnlessAborted(600_000, controller.signal),
      );
      expect(getEventListeners(controller.signal, 'abort').length).toBe(1);
      controller.abort();
      await Promise.all(waits);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('lets go of the signal when waits end by time', async () => {
    const controller = new AbortController();
    await Promise.all([
      sleepUnlessAborted(1, controller.signal),
      sleepUnlessAborted(2, controller.signal),
    ]);
    expect(getEventListeners(controller.signal, 'abort').length).toBe(0);
  });

  it('waits the given time otherwise', async () => {
    vi.useFakeTimers();
    try {
      let done = false;
      const wait = sleepUnlessAborted(1_000, new AbortController().signal).then(() => {
        done = true;
      });
      await vi.advanceTimersByTimeAsync(999);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await wait;
      expect(done).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
