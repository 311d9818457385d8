/**
 * What the gauges read: counts that other parts of the server know, registered and unregistered
 * as those parts start and stop.
 * @packageDocumentation
 */

/**
 * Counts read when metrics are collected. Each is optional; a source that throws (or rejects) is
 * left out of that collection.
 */
export interface TelemetrySources {
  /** Registrations that are live (may read the store, hence a promise). */
  registrations?: () => number | Promise<number>;
  /** Groups of registrations that share one execution. */
  groups?: () => number;
  /** Streams open on this instance. */
  streams?: () => number;
  /** Pushes accepted by a sender and not settled yet. */
  pendingPushes?: () => number;
}

/** One of the counts of {@link TelemetrySources}. */
export type SourceName = keyof TelemetrySources;

/** The sources registered so far, read together. */
export interface SourceSet {
  /**
   * Registers sources.
   * @returns removes them (idempotent)
   */
  add(sources: TelemetrySources): () => void;
  /**
   * The sum of one count over every registration that has it.
   * @returns the sum, or `undefined` when no registered source has that count or all failed
   */
  total(name: SourceName): Promise<number | undefined>;
}

/**
 * Creates an empty {@link SourceSet}.
 * @returns the set
 * @remarks Counts of several registrations add up: two senders in one process have the pending
 * pushes of both.
 */
export function createSourceSet(): SourceSet {
  const registered = new Set<TelemetrySources>();
  return {
    add(sources) {
      // A copy per call, so that the same object registered twice is removed once per call.
      const entry = { ...sources };
      registered.add(entry);
      return () => {
        registered.delete(entry);
      };
    },
    async total(name) {
      let total: number | undefined;
      for (const sources of registered) {
        const read = sources[name];
        if (read === undefined) continue;
        try {
          const value = await read();
          if (Number.isFinite(value)) total = (total ?? 0) + value;
        } catch {
          // A failing source (the store unreachable) reports nothing rather than a wrong count.
        }
      }
      return total;
    },
  };
}
