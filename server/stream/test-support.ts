/**
 * Test support for the stream route: reads a `text/event-stream` response event by event with the
 * protocol's own parser.
 * @packageDocumentation
 */
import {
  createStreamParser,
  decodeStreamEvent,
  type Envelope,
  type StreamEvent,
} from '../../protocol/index.js';

/** An open stream as a test reads it. */
export interface StreamReader {
  /** Every decoded event so far, in order. */
  events: StreamEvent[];
  /** Heartbeat comments seen. */
  heartbeats: number;
  /** The envelopes among {@link StreamReader.events}. */
  envelopes(): Envelope[];
  /** Resolves once `predicate` holds for the events so far. */
  until(predicate: (events: StreamEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  /** True once the server ended the response. */
  readonly done: boolean;
  /** Stops reading (the client goes away). */
  cancel(): Promise<void>;
}

/**
 * Reads a stream response in the background.
 * @param response - the answer to `GET …/push/stream`
 * @param abort - aborts the request (how a test's client goes away: cancelling the body of an
 * in-process response waits on the server's stream)
 * @returns the reader
 */
export function readStream(response: Response, abort?: AbortController): StreamReader {
  const events: StreamEvent[] = [];
  let heartbeats = 0;
  let done = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const parser = createStreamParser((raw) => {
    const event = decodeStreamEvent(raw);
    if (event) events.push(event);
    wake();
  });
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    if (!reader) return;
    try {
      for (;;) {
        const { done: finished, value } = await reader.read();
        if (finished) break;
        const text = decoder.decode(value, { stream: true });
        // Heartbeats are comments: the parser drops them, so count them here.
        heartbeats += text.split('\n').filter((line) => line.startsWith(':')).length;
        parser.push(text);
        wake();
      }
    } catch {
      // Cancelled.
    } finally {
      done = true;
      wake();
    }
  })();
  return {
    events,
    get heartbeats() {
      return heartbeats;
    },
    envelopes: () => events.flatMap((event) => (event.kind === 'envelope' ? [event.envelope] : [])),
    until(predicate, timeoutMs = 3_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(events)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          } else if (done) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`stream ended first: ${JSON.stringify(events)}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out; events: ${JSON.stringify(events)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    get done() {
      return done;
    },
    async cancel() {
      if (abort) abort.abort();
      else await reader?.cancel().catch(() => {});
    },
  };
}
