import type { FormattedExecutionResult } from 'graphql';
import type { WebPushSink } from './operations.js';

/**
 * Turns a sink-based subscription into an async iterator, as graphql-ws's `iterate` does.
 * @param subscribe - starts the subscription with a sink; returns its dispose function
 * @returns an iterator of the results; `return()` disposes the subscription, an error rejects
 * the pending `next()` (or the next one)
 */
export function iterateSubscription(
  subscribe: (sink: WebPushSink) => () => void,
): AsyncIterableIterator<FormattedExecutionResult> {
  const queue: FormattedExecutionResult[] = [];
  const waiting: ((step: IteratorResult<FormattedExecutionResult>) => void)[] = [];
  let finished = false;
  let failure: { error: unknown } | null = null;
  const failed: ((error: unknown) => void)[] = [];
  const settle = () => {
    while (waiting.length > 0 && queue.length > 0) {
      waiting.shift()?.({ done: false, value: queue.shift() as FormattedExecutionResult });
    }
    if (queue.length > 0 || !finished) return;
    if (failure) {
      for (const reject of failed.splice(0)) reject(failure.error);
      waiting.length = 0;
    } else {
      for (const resolve of waiting.splice(0)) resolve({ done: true, value: undefined });
    }
  };
  const stop = subscribe({
    next(result) {
      queue.push(result);
      settle();
    },
    error(error) {
      failure = { error };
      finished = true;
      settle();
    },
    complete() {
      finished = true;
      settle();
    },
  });
  const iterator: AsyncIterableIterator<FormattedExecutionResult> = {
    next() {
      const value = queue.shift();
      if (value !== undefined) return Promise.resolve({ done: false, value });
      if (finished) {
        const ended = failure;
        failure = null;
        return ended
          ? Promise.reject(ended.error)
          : Promise.resolve({ done: true, value: undefined });
      }
      return new Promise((resolve, reject) => {
        waiting.push(resolve);
        failed.push(reject);
      });
    },
    async return() {
      stop();
      finished = true;
      settle();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
