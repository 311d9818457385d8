import { Repeater } from 'graphql-yoga';
import { activeCursorTracker } from './cursor.js';
import type { EventLog } from './event-log.js';

/**
 * Subscribes to one topic of a log, as a Repeater (what graphql-yoga's pubsub returns).
 *
 * Starts after the enclosing `runWithEventCursor` tracker's `start`, else at the live end, which
 * is read now rather than at the first `next()`: "events published after subscribe()". Each event
 * is handed out only when the consumer asks for it (no buffer), and its id becomes the tracker's
 * `current` in that same step; see `CursorTracker.current` for why that is the resume point.
 *
 * @param log - where the events are
 * @param topic - `routingKey` or `routingKey:id`
 * @returns the events' payloads; `return()` stops reading at once
 */
export function subscribeToLog<T>(log: EventLog, topic: string): Repeater<T> {
  const tracker = activeCursorTracker();
  const start = tracker?.start ?? null;
  const first = start === null ? log.head(topic) : Promise.resolve(start);
  // Observed in the executor; this only keeps an iterator that never starts from an
  // unhandled rejection.
  first.catch(() => {});

  return new Repeater<T>(async (push, stop) => {
    const reader = log.open(topic);
    let stopped = false;
    stop.then(() => {
      stopped = true;
      reader.close();
    });
    try {
      let after = await first;
      if (tracker && tracker.current === null) tracker.current = after;
      while (!stopped) {
        const events = await reader.read(after);
        if (events.length === 0) break;
        for (const event of events) {
          if (stopped) break;
          after = event.id;
          if (tracker) tracker.current = event.id;
          // Resolves when the consumer asks for the next event, so nothing is pulled early.
          await push(event.payload as T);
        }
      }
    } finally {
      reader.close();
    }
    stop();
  });
}
