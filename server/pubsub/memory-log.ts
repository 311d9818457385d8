import { compareEventIds, createEventIdGenerator, FIRST_EVENT_ID } from './event-id.js';
import type { EventLog, LoggedEvent, TopicReader } from './event-log.js';

/** Options of {@link createMemoryEventLog}. */
export interface MemoryEventLogOptions {
  /** Events kept per topic; the oldest go first. */
  maxLen: number;
  /** A topic nobody reads and nobody published to for this long is dropped. */
  ttlMs: number;
  /** Most events one `read` returns. */
  batchSize: number;
  now?: () => number;
}

interface Topic {
  events: LoggedEvent[];
  lastPublishedAt: number;
  readers: number;
  waiters: Set<{ after: string; resolve: (events: LoggedEvent[]) => void }>;
}

/** Index of the first event with an id greater than `after` (ids are increasing). */
function firstAfter(events: LoggedEvent[], after: string): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (compareEventIds((events[middle] as LoggedEvent).id, after) > 0) high = middle;
    else low = middle + 1;
  }
  return low;
}

/**
 * An {@link EventLog} in this process's memory: replay works within one process, and nothing
 * survives it.
 * @param options - retention and batch size
 * @returns the log
 * @remarks Payloads are kept by reference, as graphql-yoga's own pubsub does.
 */
export function createMemoryEventLog({
  maxLen,
  ttlMs,
  batchSize,
  now = Date.now,
}: MemoryEventLogOptions): EventLog {
  const topics = new Map<string, Topic>();
  const nextId = createEventIdGenerator(now);
  const readers = new Set<() => void>();
  let lastSweep = now();
  let logClosed = false;

  const topicOf = (name: string): Topic => {
    let topic = topics.get(name);
    if (!topic) {
      topic = { events: [], lastPublishedAt: now(), readers: 0, waiters: new Set() };
      topics.set(name, topic);
    }
    return topic;
  };

  /** Drops idle topics, at most once per TTL, so that topics with ids in them cannot pile up. */
  const sweep = (at: number): void => {
    if (at - lastSweep < ttlMs) return;
    lastSweep = at;
    for (const [name, topic] of topics) {
      if (topic.readers === 0 && at - topic.lastPublishedAt >= ttlMs) topics.delete(name);
    }
  };

  return {
    async append(name, payload) {
      const at = now();
      sweep(at);
      const topic = topicOf(name);
      const event = { id: nextId(), payload };
      topic.events.push(event);
      topic.lastPublishedAt = at;
      if (topic.events.length > maxLen) topic.events.splice(0, topic.events.length - maxLen);
      for (const waiter of topic.waiters) {
        if (compareEventIds(event.id, waiter.after) > 0) {
          topic.waiters.delete(waiter);
          waiter.resolve([event]);
        }
      }
      return event.id;
    },

    async head(name) {
      return topics.get(name)?.events.at(-1)?.id ?? FIRST_EVENT_ID;
    },

    open(name): TopicReader {
      if (logClosed) return { read: async () => [], close: () => {} };
      // A topic with readers is never swept, so this object stays the topic's while open.
      const topic = topicOf(name);
      topic.readers += 1;
      let closed = false;
      let waiter: { after: string; resolve: (events: LoggedEvent[]) => void } | undefined;
      const close = () => {
        if (closed) return;
        closed = true;
        readers.delete(close);
        topic.readers -= 1;
        if (waiter) {
          topic.waiters.delete(waiter);
          waiter.resolve([]);
        }
      };
      readers.add(close);
      return {
        read(after) {
          if (closed) return Promise.resolve([]);
          const start = firstAfter(topic.events, after);
          if (start < topic.events.length) {
            return Promise.resolve(topic.events.slice(start, start + batchSize));
          }
          return new Promise((resolve) => {
            waiter = { after, resolve };
            topic.waiters.add(waiter);
          });
        },
        close,
      };
    },

    async close() {
      logClosed = true;
      for (const close of [...readers]) close();
    },
  };
}
