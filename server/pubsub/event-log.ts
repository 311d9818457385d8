/** One published event as a log holds it. */
export interface LoggedEvent {
  /** `<ms>-<seq>`, increasing within a topic. */
  id: string;
  payload: unknown;
}

/** Reads one topic's events in order, for one subscription. */
export interface TopicReader {
  /**
   * The next events after `after`, oldest first: at once when some are retained, else as soon as
   * one is published. Resolves with an empty list once the reader is closed.
   */
  read(after: string): Promise<LoggedEvent[]>;
  /** Stops reading; a pending `read` resolves with `[]`. */
  close(): void;
}

/**
 * Where the pubsub keeps events: one log per topic, with ids, so that a subscription can start
 * after any retained event. Two implementations: in memory and Redis Streams.
 */
export interface EventLog {
  /** Appends an event and returns its id. */
  append(topic: string, payload: unknown): Promise<string>;
  /** Id of the newest event of the topic, or `0-0` when it has none. */
  head(topic: string): Promise<string>;
  /** Opens a reader; the log follows the topic while a reader is open. */
  open(topic: string): TopicReader;
  /** Closes every reader and the connections the log opened. */
  close(): Promise<void>;
}
