/**
 * HTTP to push services: one lane per origin, with a concurrency bound and a FIFO queue, over
 * keep-alive HTTP/1.1 or multiplexed HTTP/2.
 * @packageDocumentation
 */
import { PushRequestError } from './errors.js';
import { createFifo, type Fifo } from './fifo.js';
import type { OriginTransport, PushAnswerListener, PushRequest } from './http-types.js';
import { createHttp1Transport } from './http1.js';
import { createHttp2Transport, NotHttp2Error } from './http2.js';

export type { PushAnswerListener, PushRequest } from './http-types.js';

/** Options of {@link createPushHttpClient}. */
export interface PushHttpClientOptions<R extends PushRequest> {
  /** Hears every request's answer or failure. */
  listener: PushClientListener<R>;
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

/** What the client tells about its requests. */
export interface PushClientListener<R extends PushRequest> extends PushAnswerListener<R> {
  /**
   * Where a request goes on the wire (at once, or when a slot frees up): `send(request)` must be
   * called in it. Lets the caller put the request back in its own async context (its span's), as
   * a request that waited for a slot is sent from another request's callback.
   * @defaultValue calls `send(request)`
   */
  enter?(request: R, send: (request: R) => void): void;
}

/** POSTs push messages. */
export interface PushHttpClient<R extends PushRequest> {
  /**
   * Sends one request, waiting for a free slot of its origin first. The client's listener hears
   * the status and `Retry-After` (a 3xx is an answer, never followed), or the failure:
   * {@link PushRequestError} `PUSH_TIMEOUT`, `PUSH_NETWORK`, or `PUSH_CLOSED` after
   * {@link PushHttpClient.close}.
   * @param request - endpoint, headers and body
   */
  post(request: R): void;
  /** Fails queued and in-flight requests with `PUSH_CLOSED` and closes every connection. */
  close(): void;
}

interface Lane<R extends PushRequest> {
  transport: OriginTransport;
  /** Whether `transport` is HTTP/2 (it becomes HTTP/1.1 if the origin turns out not to be). */
  http2: boolean;
  active: number;
  /** Requests waiting for a slot, in arrival order. */
  queue: Fifo<R>;
  /** Sends a request on this lane's transport (made once per lane). */
  send(request: R): void;
  /** Hears this lane's requests (made once per lane). */
  listener: PushAnswerListener<R>;
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
export function createPushHttpClient<R extends PushRequest>({
  listener,
  concurrencyPerOrigin = 256,
  timeoutMs = 10_000,
  maxIdleOrigins = 256,
  ca,
  http2 = 'auto',
  idleTimeoutMs = 30_000,
}: PushHttpClientOptions<R>): PushHttpClient<R> {
  const lanes = new Map<string, Lane<R>>();
  let closed = false;

  const closedError = () => new PushRequestError('PUSH_CLOSED', 'push HTTP client is closed');
  const enter = (request: R, send: (request: R) => void): void => {
    if (listener.enter === undefined) send(request);
    else listener.enter(request, send);
  };

  const http1For = (secure: boolean) =>
    createHttp1Transport({
      secure,
      maxSockets: concurrencyPerOrigin,
      timeoutMs,
      idleTimeoutMs,
      ca,
    });

  function createLane(endpoint: PushRequest['endpoint']): Lane<R> {
    const useHttp2 = endpoint.secure && http2 === 'auto';
    const lane: Lane<R> = {
      transport: useHttp2
        ? createHttp2Transport({ endpoint, timeoutMs, idleTimeoutMs, ca })
        : http1For(endpoint.secure),
      http2: useHttp2,
      active: 0,
      queue: createFifo(),
      send(request) {
        if (closed) {
          release(lane);
          listener.failed(request, closedError());
          return;
        }
        lane.transport.request(request, lane.listener);
      },
      listener: {
        answered(request, status, retryAfter) {
          release(lane);
          listener.answered(request, status, retryAfter);
        },
        failed(request, error) {
          if (error instanceof NotHttp2Error && !closed) {
            if (lane.http2) {
              lane.http2 = false;
              const http2Side = lane.transport;
              lane.transport = http1For(true);
              // Anything still on the HTTP/2 side fails over the same way, onto the new one.
              http2Side.close(error);
            }
            // Sent again over HTTP/1.1 on the slot it holds: not an attempt of its own.
            enter(request, lane.send);
            return;
          }
          release(lane);
          listener.failed(request, closed ? closedError() : error);
        },
      },
    };
    return lane;
  }

  function laneFor(request: R): Lane<R> {
    const { endpoint } = request;
    let lane = lanes.get(endpoint.origin);
    if (lane === undefined) {
      lane = createLane(endpoint);
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

  function release(lane: Lane<R>): void {
    const next = lane.queue.shift();
    // The slot passes straight to the next in line, so `active` stays the same.
    if (next !== undefined) enter(next, lane.send);
    else lane.active -= 1;
  }

  return {
    post(request) {
      if (closed) {
        queueMicrotask(() => listener.failed(request, closedError()));
        return;
      }
      const lane = laneFor(request);
      if (lane.active < concurrencyPerOrigin) {
        lane.active += 1;
        enter(request, lane.send);
      } else {
        lane.queue.push(request);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      const queued: R[] = [];
      for (const lane of lanes.values()) {
        // A loop, not a spread: a queue may hold more requests than a call takes arguments.
        for (const request of lane.queue.drain()) queued.push(request);
        lane.transport.close(closedError());
      }
      lanes.clear();
      for (const request of queued) listener.failed(request, closedError());
    },
  };
}
