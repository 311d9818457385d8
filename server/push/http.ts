/**
 * HTTP to push services: one lane per origin, with a concurrency bound and a FIFO queue, over
 * keep-alive HTTP/1.1 or multiplexed HTTP/2.
 * @packageDocumentation
 */
import { PushRequestError } from './errors.js';
import { createFifo, type Fifo } from './fifo.js';
import type { OriginTransport, PushHttpResponse, PushRequest } from './http-types.js';
import { createHttp1Transport } from './http1.js';
import { createHttp2Transport, NotHttp2Error } from './http2.js';

export type { PushHttpResponse, PushRequest } from './http-types.js';

/** Options of {@link createPushHttpClient}. */
export interface PushHttpClientOptions {
  /**
   * Requests in flight per origin; more wait in a FIFO queue. Also the HTTP/1.1 agent's
   * `maxSockets`.
   * @defaultValue 256
   */
  concurrencyPerOrigin?: number;
  /**
   * Deadline of one request, from its start (not its time in the queue) to the end of the
   * response.
   * @defaultValue 10_000
   */
  timeoutMs?: number;
  /**
   * Origins kept with their connections while idle; beyond it idle origins are dropped, oldest
   * first.
   * @defaultValue 256
   */
  maxIdleOrigins?: number;
  /**
   * Trusted certificates for https origins, replacing Node's default CAs when set (tests,
   * private push services); for HTTP/1.1 and HTTP/2 alike.
   * @defaultValue Node's default CAs
   */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  /**
   * `auto`: HTTP/2 to https origins that choose `h2` by ALPN, HTTP/1.1 to the others and to
   * http origins. `never`: HTTP/1.1 everywhere.
   * @defaultValue 'auto'
   */
  http2?: 'auto' | 'never';
  /**
   * An idle connection (HTTP/1.1 socket, HTTP/2 session) is closed after this long.
   * @defaultValue 30_000
   */
  idleTimeoutMs?: number;
}

/** POSTs push messages. */
export interface PushHttpClient {
  /**
   * Sends one request, waiting for a free slot of its origin first.
   * @param request - endpoint, headers and body
   * @returns the status and `Retry-After`; a 3xx is returned as is, never followed
   * @throws {@link PushRequestError} `PUSH_TIMEOUT`, `PUSH_NETWORK`, or `PUSH_CLOSED` after
   * {@link PushHttpClient.close}
   */
  post(request: PushRequest): Promise<PushHttpResponse>;
  /** Fails queued and in-flight requests with `PUSH_CLOSED` and closes every connection. */
  close(): void;
}

interface Waiter {
  start(): void;
  fail(error: Error): void;
}

interface Lane {
  transport: OriginTransport;
  /** Whether `transport` is HTTP/2 (it becomes HTTP/1.1 if the origin turns out not to be). */
  http2: boolean;
  active: number;
  queue: Fifo<Waiter>;
}

/**
 * Creates the HTTP client of the push sender.
 * @param options - concurrency, deadline, idle bound and trust
 * @returns the client
 * @remarks A request holds its origin's slot only while on the wire: a message waiting to
 * retry holds none. Slots are handed over in arrival order, so a fan-out to one origin cannot
 * starve a message that queued earlier. The protocol is chosen per origin: with `http2:
 * 'auto'` an https origin starts on HTTP/2, and if its first handshake picks anything but `h2`
 * the origin moves to HTTP/1.1 for good and the requests that were waiting go out over it
 * (not counted as attempts).
 */
export function createPushHttpClient({
  concurrencyPerOrigin = 256,
  timeoutMs = 10_000,
  maxIdleOrigins = 256,
  ca,
  http2 = 'auto',
  idleTimeoutMs = 30_000,
}: PushHttpClientOptions = {}): PushHttpClient {
  const lanes = new Map<string, Lane>();
  let closed = false;

  const closedError = () => new PushRequestError('PUSH_CLOSED', 'push HTTP client is closed');

  const http1For = (secure: boolean) =>
    createHttp1Transport({
      secure,
      maxSockets: concurrencyPerOrigin,
      timeoutMs,
      idleTimeoutMs,
      ca,
    });

  function laneFor(request: PushRequest): Lane {
    const { endpoint } = request;
    let lane = lanes.get(endpoint.origin);
    if (lane === undefined) {
      const useHttp2 = endpoint.secure && http2 === 'auto';
      lane = {
        transport: useHttp2
          ? createHttp2Transport({ endpoint, timeoutMs, idleTimeoutMs, ca })
          : http1For(endpoint.secure),
        http2: useHttp2,
        active: 0,
        queue: createFifo(),
      };
      lanes.set(endpoint.origin, lane);
      evictIdle(endpoint.origin);
    }
    return lane;
  }

  function evictIdle(keep: string): void {
    if (lanes.size <= maxIdleOrigins) return;
    for (const [origin, lane] of lanes) {
      if (lanes.size <= maxIdleOrigins) break;
      if (origin !== keep && lane.active === 0 && lane.queue.length === 0) {
        lane.transport.close(closedError());
        lanes.delete(origin);
      }
    }
  }

  function acquire(lane: Lane): Promise<void> | undefined {
    if (lane.active < concurrencyPerOrigin) {
      lane.active += 1;
      return undefined;
    }
    return new Promise((start, fail) => lane.queue.push({ start, fail }));
  }

  function release(lane: Lane): void {
    const next = lane.queue.shift();
    // The slot passes straight to the next in line, so `active` stays the same.
    if (next !== undefined) next.start();
    else lane.active -= 1;
  }

  return {
    async post(request) {
      if (closed) throw closedError();
      const lane = laneFor(request);
      const wait = acquire(lane);
      if (wait !== undefined) await wait;
      try {
        if (closed) throw closedError();
        try {
          return await lane.transport.request(request);
        } catch (error) {
          if (!(error instanceof NotHttp2Error)) throw error;
          if (lane.http2) {
            lane.http2 = false;
            // Anything still on the HTTP/2 side fails over the same way.
            lane.transport.close(error);
            lane.transport = http1For(true);
          }
          if (closed) throw closedError();
          return await lane.transport.request(request);
        }
      } finally {
        release(lane);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      for (const lane of lanes.values()) {
        for (const waiter of lane.queue.drain()) waiter.fail(closedError());
        lane.transport.close(closedError());
      }
      lanes.clear();
    },
  };
}
