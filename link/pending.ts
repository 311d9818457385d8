import type { Envelope } from '../protocol/index.js';

/** Options of {@link createPendingBuffer}. */
export interface PendingBufferOptions {
  /**
   * Most envelopes kept in all; the oldest go first.
   * @defaultValue 500
   */
  maxEntries?: number;
  /**
   * How long an envelope waits for its registration to become known.
   * @defaultValue 10_000
   */
  maxAgeMs?: number;
  /**
   * Clock.
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/**
 * Envelopes for registrations the tab does not know yet: a push can overtake the HTTP answer
 * that tells the tab its registration id.
 */
export interface PendingBuffer {
  /** Keeps an envelope until its registration is known, or it is too old. */
  add(envelope: Envelope): void;
  /** Removes and returns the envelopes of `registrationId`, oldest first. */
  take(registrationId: string): Envelope[];
  /** Envelopes kept (after forgetting expired ones). */
  readonly size: number;
}

/**
 * Creates a {@link PendingBuffer}, bounded by count and age.
 * @param options - see {@link PendingBufferOptions}.
 * @returns the buffer.
 */
export function createPendingBuffer({
  maxEntries = 500,
  maxAgeMs = 10_000,
  now = Date.now,
}: PendingBufferOptions = {}): PendingBuffer {
  let entries: { envelope: Envelope; at: number }[] = [];

  const prune = (): void => {
    const oldest = now() - maxAgeMs;
    let drop = 0;
    while (drop < entries.length && (entries[drop]?.at ?? 0) <= oldest) drop++;
    drop = Math.max(drop, entries.length - maxEntries);
    if (drop > 0) entries = entries.slice(drop);
  };

  return {
    add(envelope) {
      entries.push({ envelope, at: now() });
      prune();
    },
    take(registrationId) {
      prune();
      const taken = entries.filter((entry) => entry.envelope.reg === registrationId);
      if (taken.length > 0)
        entries = entries.filter((entry) => entry.envelope.reg !== registrationId);
      return taken.map((entry) => entry.envelope);
    },
    get size() {
      prune();
      return entries.length;
    },
  };
}
