/**
 * The way out to one user-agent connection: applies the delay and reorder faults, then hands
 * each message to `deliver`. Closing it drops what it holds; those messages are still stored
 * and go out again on the user agent's next hello.
 */
import { DEFAULT_REORDER_FLUSH_MS, drawDelay, type Faults } from './faults.js';
import { type Random, shuffle } from './prng.js';
import type { StoredMessage } from './registry.js';

/** Options of {@link createOutbox}. */
export interface OutboxOptions {
  /** The faults in force now (read on every message, so `setFaults` applies at once). */
  faults: () => Faults;
  random: Random;
  /** Sends one message; may close the outbox (the `disconnectEvery` fault). */
  deliver: (message: StoredMessage) => void;
}

/** Per-connection delivery queue. */
export interface Outbox {
  /** Queues a message for delivery. Without delay or reorder faults it is delivered at once. */
  push(message: StoredMessage): void;
  /** Stops delivering and cancels held messages and timers. */
  close(): void;
  /** Number of messages held by the delay and reorder faults. */
  held(): number;
}

/**
 * Creates the delivery queue of one connection.
 * @param options - faults, random source and the send function
 * @returns the outbox
 */
export function createOutbox({ faults, random, deliver }: OutboxOptions): Outbox {
  let closed = false;
  let window: StoredMessage[] = [];
  let flushTimer: NodeJS.Timeout | null = null;
  const delayed = new Set<NodeJS.Timeout>();

  const flush = () => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = null;
    const batch = shuffle(window, random);
    window = [];
    for (const message of batch) {
      if (closed) return;
      deliver(message);
    }
  };

  const release = (message: StoredMessage) => {
    if (closed) return;
    const size = faults().reorderWindow ?? 0;
    if (size <= 1 && window.length === 0) {
      deliver(message);
      return;
    }
    window.push(message);
    if (window.length >= size) {
      flush();
    } else if (!flushTimer) {
      // A partial window must not hold messages forever.
      flushTimer = setTimeout(flush, faults().reorderFlushMs ?? DEFAULT_REORDER_FLUSH_MS);
    }
  };

  return {
    push(message) {
      if (closed) return;
      const delay = drawDelay(faults(), random);
      if (delay <= 0) {
        release(message);
        return;
      }
      const timer = setTimeout(() => {
        delayed.delete(timer);
        release(message);
      }, delay);
      delayed.add(timer);
    },
    close() {
      closed = true;
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = null;
      for (const timer of delayed) clearTimeout(timer);
      delayed.clear();
      window = [];
    },
    held: () => window.length + delayed.size,
  };
}
