/**
 * One `abort` listener per signal, however many waits share it.
 * @packageDocumentation
 */

/** Wake-up callbacks by signal; the signal's one listener calls every callback of its set. */
const waiters = new WeakMap<AbortSignal, Set<() => void>>();

function wakeAll(event: Event): void {
  const signal = event.target as AbortSignal;
  const set = waiters.get(signal);
  waiters.delete(signal);
  if (set === undefined) return;
  for (const wake of set) wake();
}

/**
 * Calls `wake` once when `signal` aborts, unless the returned function is called first.
 * @param signal - the signal to watch
 * @param wake - called at most once, on abort
 * @returns a function that stops watching (cheap; call it when the wait ends otherwise)
 * @remarks Every wait of a sender shares its stop signal: a fan-out under 429 or 5xx faults
 * holds thousands of backoff waits at once. One `addEventListener` per wait would pass Node's
 * limit of 10 listeners (a `MaxListenersExceededWarning`) and make each removal a linear scan,
 * so each signal gets one listener, added with its first waiter and removed with its last.
 * An already aborted signal calls `wake` synchronously.
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

function noop(): void {}
