/**
 * HTTP to push services: node:http/node:https with one keep-alive agent and one concurrency
 * bound per origin, a deadline per request, and no redirects.
 * @packageDocumentation
 */
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { PushRequestError } from './errors.js';

/** Options of {@link createPushHttpClient}. */
export interface PushHttpClientOptions {
  /**
   * Requests in flight per origin; more wait in a FIFO queue. Also the agent's `maxSockets`.
   * @defaultValue 8
   */
  concurrencyPerOrigin?: number;
  /**
   * Deadline of one request, from its start (not its time in the queue) to the end of the
   * response.
   * @defaultValue 10_000
   */
  timeoutMs?: number;
  /**
   * Origins kept with an agent while idle; beyond it idle origins are dropped, oldest first.
   * @defaultValue 256
   */
  maxIdleOrigins?: number;
}

/** A push service's answer. The body is read and discarded. */
export interface PushHttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
}

/** POSTs push messages. */
export interface PushHttpClient {
  /**
   * Sends one request, waiting for a free slot of the URL's origin first.
   * @param url - the push endpoint (http or https)
   * @param headers - request headers
   * @param body - request body
   * @returns the status and headers; a 3xx is returned as is, never followed
   * @throws {@link PushRequestError} `PUSH_TIMEOUT`, `PUSH_NETWORK`, or `PUSH_CLOSED` after
   * {@link PushHttpClient.close}
   */
  post(url: URL, headers: OutgoingHttpHeaders, body: Uint8Array): Promise<PushHttpResponse>;
  /** Fails queued and in-flight requests with `PUSH_CLOSED` and closes every socket. */
  close(): void;
}

interface Lane {
  agent: http.Agent;
  active: number;
  queue: Fifo<{ start: () => void; fail: (error: Error) => void }>;
}

/** Array-backed FIFO with O(1) amortized shift: a fan-out can queue many thousands. */
interface Fifo<T> {
  push(item: T): void;
  shift(): T | undefined;
  drain(): T[];
  readonly length: number;
}

function createFifo<T>(): Fifo<T> {
  let items: T[] = [];
  let head = 0;
  return {
    push(item) {
      items.push(item);
    },
    shift() {
      if (head >= items.length) return undefined;
      const item = items[head];
      head += 1;
      if (head > 1024 && head * 2 > items.length) {
        items = items.slice(head);
        head = 0;
      }
      return item;
    },
    drain() {
      const rest = items.slice(head);
      items = [];
      head = 0;
      return rest;
    },
    get length() {
      return items.length - head;
    },
  };
}

/** Push services answer with a few bytes; anything far larger is not worth reading. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Creates the HTTP client of the push sender.
 * @param options - concurrency, deadline and idle bound
 * @returns the client
 */
export function createPushHttpClient({
  concurrencyPerOrigin = 8,
  timeoutMs = 10_000,
  maxIdleOrigins = 256,
}: PushHttpClientOptions = {}): PushHttpClient {
  const lanes = new Map<string, Lane>();
  const inFlight = new Set<http.ClientRequest>();
  let closed = false;

  const closedError = () => new PushRequestError('PUSH_CLOSED', 'push HTTP client is closed');

  function laneFor(url: URL): Lane {
    const origin = url.origin;
    let lane = lanes.get(origin);
    if (lane === undefined) {
      const agentOptions = { keepAlive: true, maxSockets: concurrencyPerOrigin };
      lane = {
        agent:
          url.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions),
        active: 0,
        queue: createFifo(),
      };
      lanes.set(origin, lane);
      evictIdle(origin);
    }
    return lane;
  }

  function evictIdle(keep: string): void {
    if (lanes.size <= maxIdleOrigins) return;
    for (const [origin, lane] of lanes) {
      if (lanes.size <= maxIdleOrigins) break;
      if (origin !== keep && lane.active === 0 && lane.queue.length === 0) {
        lane.agent.destroy();
        lanes.delete(origin);
      }
    }
  }

  function acquire(lane: Lane): Promise<void> {
    if (lane.active < concurrencyPerOrigin) {
      lane.active += 1;
      return Promise.resolve();
    }
    return new Promise((start, fail) => lane.queue.push({ start, fail }));
  }

  function release(lane: Lane): void {
    const next = lane.queue.shift();
    // The slot passes straight to the next in line, so `active` stays the same.
    if (next !== undefined) next.start();
    else lane.active -= 1;
  }

  function request(
    lane: Lane,
    url: URL,
    headers: OutgoingHttpHeaders,
    body: Uint8Array,
  ): Promise<PushHttpResponse> {
    return new Promise((resolve, reject) => {
      const transport = url.protocol === 'https:' ? https : http;
      let settled = false;
      let response: PushHttpResponse | undefined;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        inFlight.delete(req);
        if (response !== undefined) resolve(response);
        else reject(error ?? new PushRequestError('PUSH_NETWORK', 'connection closed'));
      };
      const req = transport.request(
        {
          protocol: url.protocol,
          // node:http wants IPv6 hosts without brackets.
          hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: url.port === '' ? undefined : Number(url.port),
          path: `${url.pathname}${url.search}`,
          method: 'POST',
          headers,
          agent: lane.agent,
        },
        (res) => {
          response = { status: res.statusCode ?? 0, headers: res.headers };
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > MAX_RESPONSE_BYTES) res.destroy();
          });
          res.on('error', () => settle());
          res.on('end', () => settle());
          res.on('close', () => settle());
        },
      );
      const timer = setTimeout(() => {
        req.destroy(
          new PushRequestError('PUSH_TIMEOUT', `no answer from ${url.origin} in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      inFlight.add(req);
      req.on('error', (error) => {
        settle(
          error instanceof PushRequestError
            ? error
            : new PushRequestError(
                'PUSH_NETWORK',
                `request to ${url.origin} failed: ${error.message}`,
                {
                  cause: error,
                },
              ),
        );
      });
      req.end(body);
    });
  }

  return {
    async post(url, headers, body) {
      if (closed) throw closedError();
      const lane = laneFor(url);
      await acquire(lane);
      try {
        if (closed) throw closedError();
        return await request(lane, url, headers, body);
      } finally {
        release(lane);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      for (const req of inFlight) req.destroy(closedError());
      for (const lane of lanes.values()) {
        for (const waiter of lane.queue.drain()) waiter.fail(closedError());
        lane.agent.destroy();
      }
      lanes.clear();
    },
  };
}
