import { AsyncLocalStorage } from 'node:async_hooks';
import { isEventId } from './event-id.js';

/**
 * Where a subscription resumes, and how far it got. Pass it to {@link runWithEventCursor}; every
 * `pubSub.subscribe()` called inside starts after `start` and moves `current` as its events are
 * pulled.
 */
export interface CursorTracker {
  /** Resume after this event id; `null` starts at the live end (only events published later). */
  readonly start: string | null;
  /**
   * Id of the last event pulled from the pubsub, or where the subscription started when nothing
   * was pulled yet (`start`, or the live end once resolved). `null` only before a subscription
   * with a `null` start has resolved the live end.
   *
   * Store it together with the message an event produced (the Store's `appendMessage` cursor):
   * a server that adopts the registration resumes after it.
   *
   * @remarks Why the last *pulled* id is the right cursor, even with `filter`: the pubsub only
   * hands out an event when the consumer asks for the next one, and every stage of a pipe
   * (`filter`, `map`, graphql-js's result mapping) asks for one event at a time. So when the
   * consumer holds the result of event E, `current` is E's id: events after E have not been pulled
   * yet, and events before E were pulled and either became E's predecessors' results or were
   * dropped by `filter`. Replaying after E therefore neither loses nor repeats a result; events
   * that `filter` dropped before E are not replayed, and ones it dropped after E are pulled and
   * filtered again, with the same outcome as long as the filter depends only on the event. A stage
   * that buffers ahead (reads events before they are asked for) breaks this.
   */
  current: string | null;
}

/**
 * Creates a tracker for {@link runWithEventCursor}.
 * @param start - the cursor to resume after (an event id), or `null` for the live end
 * @returns a tracker whose `current` starts at `start`
 * @throws RangeError when `start` is not an event id
 */
export function createCursorTracker(start: string | null = null): CursorTracker {
  if (start !== null && !isEventId(start)) {
    throw Object.assign(new RangeError(`not an event id: ${start}`), { code: 'INVALID_CURSOR' });
  }
  return { start, current: start };
}

/** What a run puts in the storage: its tracker, and whether the run is still open. */
interface RunFrame {
  readonly tracker: CursorTracker;
  open: boolean;
}

const storage = new AsyncLocalStorage<RunFrame>();

/**
 * Runs `fn` so that the pubsub subscriptions it opens (directly or in a resolver it calls, also
 * after `await`s) resume after `tracker.start` and record their progress in `tracker.current`.
 * Resolvers stay unchanged: this is how a server that adopts a registration resumes its stream.
 *
 * @param tracker - from {@link createCursorTracker}
 * @param fn - e.g. graphql-js's `subscribe(...)` for the registration's operation
 * @returns what `fn` returns
 * @remarks The tracker is there until `fn` returns or, when it returns a promise, until that
 * promise settles: a subscription opened later (by an `async function*` resolver at its first
 * `next()`, say) starts at the live end. Meant for one pubsub subscription per call. With several (a resolver merging two
 * topics), each resumes after the same id and `current` is the last pulled from any of them:
 * exact on one Redis node (ids are its clock), but a merge can pull events out of id order, and
 * then a replay repeats some.
 * @example
 * ```ts
 * const tracker = createCursorTracker(record.cursor);
 * const stream = await runWithEventCursor(tracker, () => subscribe({ schema, document }));
 * for await (const result of stream) {
 *   await store.appendMessage(id, build(result), retention, { cursor: tracker.current });
 * }
 * ```
 */
export function runWithEventCursor<T>(tracker: CursorTracker, fn: () => T): T {
  const frame: RunFrame = { tracker, open: true };
  const end = (): void => runEnded(frame);
  running += 1;
  let result: T;
  try {
    result = storage.run(frame, fn);
  } catch (error) {
    end();
    throw error;
  }
  if (isThenable(result)) result.then(end, end);
  else end();
  return result;
}

/** Runs whose `fn` (or the promise it returned) has not settled yet. */
let running = 0;

/**
 * Closes the run's frame, so that a continuation it left behind no longer sees the tracker:
 * how long a store outlives its run differs between Node versions (a promise made inside keeps
 * it on Node 24, and on Node 20 after the storage is enabled again), the `open` flag does not.
 *
 * Then turns the storage off once no run is open. On Node 20 an enabled `AsyncLocalStorage`
 * keeps promise hooks on for the whole process, and they cost every promise of every push a hook
 * call and an allocation; a run needs them only until its subscription is set up, so they are
 * on only while a registration is being set up. The next run turns them on again.
 */
function runEnded(frame: RunFrame): void {
  frame.open = false;
  running -= 1;
  if (running === 0) storage.disable();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** The tracker of the enclosing {@link runWithEventCursor}, if any. */
export function activeCursorTracker(): CursorTracker | undefined {
  const frame = storage.getStore();
  return frame?.open ? frame.tracker : undefined;
}
