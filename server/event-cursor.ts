import { type CursorTracker, createCursorTracker } from './pubsub/index.js';

/**
 * A {@link CursorTracker} that also tells whether a replayable pubsub subscription used it, and
 * when it first knew its position.
 */
export interface ObservedCursor {
  /** Hand this to `runWithEventCursor`. */
  readonly tracker: CursorTracker;
  /**
   * True once a replayable subscription read the tracker's start (it does so synchronously when
   * the resolver subscribes). False means the stream cannot be replayed: its cursor stays `null`.
   */
  used(): boolean;
  /** Resolves once `tracker.current` is not `null` (right away when it already is not). */
  known(): Promise<void>;
}

/**
 * Creates an {@link ObservedCursor}.
 * @param start - the event id to resume after; anything that is not an event id starts at the
 * live end
 * @returns the observed tracker
 * @remarks A new registration must store where its stream started before it is acknowledged,
 * or an owner that dies before the first message would leave the adopter nothing to resume
 * from. The pubsub learns that position only when the stream is first read; {@link
 * ObservedCursor.known} is how the registrar waits for it.
 */
export function observeCursor(start: string | null): ObservedCursor {
  let inner: CursorTracker;
  try {
    inner = createCursorTracker(start);
  } catch {
    // A cursor that is not an event id cannot be resumed from: start at the live end.
    inner = createCursorTracker(null);
  }
  let used = false;
  let resolveKnown: (() => void) | undefined;
  const known = new Promise<void>((resolve) => {
    resolveKnown = resolve;
  });
  if (inner.current !== null) resolveKnown?.();

  const tracker: CursorTracker = {
    get start() {
      used = true;
      return inner.start;
    },
    get current() {
      return inner.current;
    },
    set current(value) {
      inner.current = value;
      if (value !== null) resolveKnown?.();
    },
  };
  return { tracker, used: () => used, known: () => known };
}
