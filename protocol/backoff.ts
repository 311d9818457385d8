/**
 * How every part waits before trying again: the sender after a 5xx, the runner after a store
 * error, the adoption loop after a refused adoption, the Redis follower after a lost connection,
 * the link after a failed fetch, the Node user agent after a dropped socket. One schedule, so
 * that they all back off the same way and none hammers what is recovering.
 *
 * No I/O: a pure delay function and a timer that an `AbortSignal` ends early.
 * @packageDocumentation
 */

/** Options of {@link backoffDelay}. */
export interface BackoffOptions {
  /** Ceiling of the wait after the first failure. */
  baseMs: number;
  /** Ceiling of every wait. */
  maxMs: number;
  /**
   * `'full'`: a uniform wait in `[0, ceiling)`, so that many clients that failed together do
   * not retry in one burst. `'none'`: the ceiling itself.
   * @defaultValue `'full'`
   */
  jitter?: 'full' | 'none';
  /**
   * Uniform in `[0, 1)`.
   * @defaultValue `Math.random`
   */
  random?: () => number;
}

/**
 * Exponential backoff: the ceiling doubles with each failure, from `baseMs` up to `maxMs`.
 * @param attempt - the attempt that just failed, from 1 (0 counts as 1)
 * @param options - base, maximum and jitter; see {@link BackoffOptions}
 * @returns milliseconds to wait before the next attempt
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const { baseMs, maxMs, jitter = 'full', random = Math.random } = options;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempt, 64) - 1));
  return jitter === 'none' ? ceiling : Math.floor(random() * ceiling);
}

/** Wake-up callbacks by signal; the signal's one listener calls every callback of its set. */
const waiters = new WeakMap<AbortSignal, Set<() => void>>();

function wakeAll(event: Event): void {
  const signal = event.target as AbortSignal;
  const set = waiters.get(signal);
  waiters.delete(signal);
  if (set === undefined) return;
  for (const wake of set) wake();
}

function noop(): void {}

/**
 * Calls `wake` once when `signal` aborts, unless the returned function is called first.
 * @param signal - the signal to watch
 * @param wake - called at most once, on abort
 * @returns a function that stops watching (cheap; call it when the wait ends otherwise)
 * @remarks A fan-out under 429 or 5xx faults holds thousands of waits on one stop signal. One
 * `addEventListener` per wait would pass Node's limit of 10 listeners (a
 * `MaxListenersExceededWarning`) and make each removal a linear scan, so each signal gets one
 * listener, added with its first waiter and removed with its last. An already aborted signal
 * calls `wake` synchronously.
 */
export function onAbort(signal: AbortSignal, wake: () => void): () => void {
  if (signal.aborted) {
    wake();
    return noop;
  }
  let set = waiters.get(signal);
  if (set === undefined) {
    set = new Set();
    waiters.set(signal, set);
    signal.addEventListener('abort', wakeAll, { once: true });
  }
  set.add(wake);
  const watched = set;
  return () => {
    if (!watched.delete(wake) || watched.size > 0) return;
    // The last waiter left: drop the listener so an idle signal holds nothing.
    if (waiters.get(signal) === watched) waiters.delete(signal);
    signal.removeEventListener('abort', wakeAll);
  };
}

/**
 * Waits `ms`, or less when `signal` aborts.
 * @param ms - how long to wait
 * @param signal - ends the wait early
 * @returns resolves (never rejects) when the time is up or the signal aborted
 * @remarks Any number of waits may share one signal: they share its one `abort` listener
 * ({@link onAbort}).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal === undefined) {
      setTimeout(resolve, ms);
      return;
    }
    if (signal.aborted) return resolve();
    const timer = setTimeout(() => {
      stopWatching();
      resolve();
    }, ms);
    const stopWatching = onAbort(signal, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
