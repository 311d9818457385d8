/**
 * HTTP/2 to one push-service origin: requests multiplexed as streams over as few connections as
 * the server's stream limit allows, on this package's own HTTP/2 client (`h2/`).
 * @packageDocumentation
 */
import type { PushEndpoint } from './endpoint.js';
import { PushRequestError } from './errors.js';
import {
  createHttp2Connection,
  type Http2Connection,
  type StreamListener,
} from './h2/connection.js';
import { createPushHeaderEncoder } from './h2/hpack-encode.js';
import {
  MAX_RESPONSE_BYTES,
  type OriginTransport,
  type PushAnswerListener,
  type PushRequest,
} from './http-types.js';
import { connectTls } from './tls-connect.js';

/** Options of {@link createHttp2Transport}. */
export interface Http2TransportOptions {
  /** Any endpoint of the origin: where to connect. */
  endpoint: PushEndpoint;
  /** Deadline of one request (connecting included), milliseconds. */
  timeoutMs: number;
  /** A session with no stream for this long is closed, milliseconds. */
  idleTimeoutMs: number;
  /** Trusted certificates, replacing Node's default CAs when set. */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
}

/**
 * What a request fails with when the origin answered ALPN with something else than `h2`: the
 * caller sends it again over HTTP/1.1, without counting an attempt.
 */
export class NotHttp2Error extends Error {
  override readonly name = 'NotHttp2Error';
}

interface Session {
  /** Set once connected and the server's SETTINGS arrived. */
  connection: Http2Connection | undefined;
  /** Requests that came while it connects; they start (or move on) once it is ready. */
  waiting: Flight[];
  /** Requests on this session: streams open, or waiting for the session to be ready. */
  reserved: number;
  /** Streams open. */
  streams: number;
  /** Takes no new streams: GOAWAY received, failed, closing or idle-closed. */
  draining: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * One request's state: plain data, so that a request makes no closures; a class, so that V8
 * never pretenures it (see `Stream` in `h2/connection.ts`).
 */
class Flight {
  /** The stream, once opened. */
  streamId: number | undefined = undefined;
  settled = false;
  /** The answer's status once its head arrived, else 0. */
  status = 0;
  retryAfter: string | undefined = undefined;
  /** Response body bytes read (and discarded). */
  received = 0;
  constructor(
    readonly request: PushRequest,
    readonly listener: PushAnswerListener<PushRequest>,
    public session: Session,
    /** When it fails as timed out (epoch ms). */
    readonly deadline: number,
  ) {}
}

const closedError = () => new PushRequestError('PUSH_CLOSED', 'push HTTP client is closed');

/**
 * Streams a session takes: a server that allows none still gets one at a time (it refuses it,
 * and the sender backs off) rather than a new session per request.
 */
const streamLimit = (connection: Http2Connection) => Math.max(1, connection.maxConcurrentStreams);

/**
 * Creates the HTTP/2 transport of one https origin.
 * @param options - where, deadlines and trust
 * @returns the transport
 * @remarks
 * - A request goes on the first session with a free stream; when every session is at its
 *   server's `SETTINGS_MAX_CONCURRENT_STREAMS`, another session is opened. A session sends no
 *   request before the server's SETTINGS arrive (the first frame a server sends); the requests
 *   that came meanwhile wait on it, and those past its limit then move on to another session
 *   instead of queueing inside this one. The lane in front bounds requests in flight, so there
 *   are never more sessions than `concurrencyPerOrigin` needs.
 * - A session that receives GOAWAY, fails or closes takes no new streams; the next request
 *   opens a fresh one. Its streams the server did process finish; the others fail as network
 *   errors, which the sender retries.
 * - A session with no streams is `unref`'d (an idle connection never keeps the process alive)
 *   and closed after `idleTimeoutMs`.
 * - Redirects are not followed (a 3xx is an answer like any other). A response body is read
 *   and discarded; past 64 KiB the stream is cancelled (the status is kept).
 */
export function createHttp2Transport({
  endpoint,
  timeoutMs,
  idleTimeoutMs,
  ca,
}: Http2TransportOptions): OriginTransport {
  const sessions: Session[] = [];
  const flights = new Set<Flight>();
  const encoder = createPushHeaderEncoder(endpoint.origin.slice('https://'.length));
  let closed = false;

  function retire(session: Session): void {
    session.draining = true;
    clearTimeout(session.idleTimer);
    const at = sessions.indexOf(session);
    if (at !== -1) sessions.splice(at, 1);
    if (session.reserved === 0) session.connection?.close();
  }

  async function connect(session: Session): Promise<Http2Connection> {
    const socket = await connectTls(endpoint, { ca, timeoutMs });
    if (socket.alpnProtocol !== 'h2') {
      socket.destroy();
      throw new NotHttp2Error(`${endpoint.origin} does not speak HTTP/2`);
    }
    if (closed) {
      socket.destroy();
      throw closedError();
    }
    const connection = createHttp2Connection(socket, {
      // Streams the server already took finish; the rest fail and are retried elsewhere.
      onGoaway: () => retire(session),
      onClose: () => retire(session),
    });
    await connection.ready;
    return connection;
  }

  function open(): Session {
    const session: Session = {
      connection: undefined,
      waiting: [],
      reserved: 0,
      streams: 0,
      draining: false,
      idleTimer: undefined,
    };
    connect(session).then(
      (connection) => {
        session.connection = connection;
        if (closed) {
          // Closed while the handshake ran: its requests have already failed.
          connection.destroy(closedError());
          return;
        }
        if (session.draining && session.reserved === 0) {
          // Retired while it connected (its requests timed out, or it idled): nothing to send.
          connection.close();
          return;
        }
        const waiting = session.waiting;
        session.waiting = [];
        for (const flight of waiting) start(flight);
      },
      (error: Error) => {
        retire(session);
        const waiting = session.waiting;
        session.waiting = [];
        for (const flight of waiting) finish(flight, error);
      },
    );
    sessions.push(session);
    return session;
  }

  function usable(session: Session): boolean {
    const { connection } = session;
    if (session.draining) return false;
    // Until its SETTINGS say how many streams it takes, a connecting session takes every
    // request: those past its limit move on once it is ready, so the sessions opened are
    // exactly those the limit calls for.
    if (connection === undefined) return true;
    return session.reserved < streamLimit(connection) && connection.usable;
  }

  function reserve(): Session {
    const session = sessions.find(usable) ?? open();
    session.reserved += 1;
    clearTimeout(session.idleTimer);
    session.idleTimer = undefined;
    session.connection?.ref();
    return session;
  }

  function release(session: Session): void {
    session.reserved -= 1;
    if (session.reserved > 0) return;
    // A draining session closes once its last stream is done.
    if (session.draining) {
      session.connection?.close();
      return;
    }
    session.connection?.unref();
    session.idleTimer = setTimeout(() => retire(session), idleTimeoutMs);
    session.idleTimer.unref();
  }

  function toPushError(error: Error | undefined): Error {
    if (error instanceof PushRequestError || error instanceof NotHttp2Error) return error;
    if (error === undefined) {
      return new PushRequestError(
        'PUSH_NETWORK',
        `stream to ${endpoint.origin} closed before an answer`,
      );
    }
    return new PushRequestError(
      'PUSH_NETWORK',
      `request to ${endpoint.origin} failed: ${error.message}`,
      { cause: error },
    );
  }

  /**
   * One timer for every request's deadline: requests are kept in the order they started, and
   * all have the same timeout, so the first one's deadline is the next to pass. A timer per
   * request was a measurable part of a fan-out.
   */
  let deadlineTimer: NodeJS.Timeout | undefined;

  function armDeadline(): void {
    if (deadlineTimer !== undefined) return;
    const first = flights.values().next();
    if (first.done) return;
    deadlineTimer = setTimeout(expire, Math.max(0, first.value.deadline - Date.now()));
  }

  function disarmDeadline(): void {
    clearTimeout(deadlineTimer);
    deadlineTimer = undefined;
  }

  function expire(): void {
    deadlineTimer = undefined;
    const now = Date.now();
    for (const flight of flights) {
      if (flight.deadline > now) break;
      finish(
        flight,
        new PushRequestError(
          'PUSH_TIMEOUT',
          `no answer from ${endpoint.origin} in ${timeoutMs} ms`,
        ),
        true,
      );
    }
    armDeadline();
  }

  /**
   * Ends a request once: its stream (cut when it is given up), its session's reservation, and
   * the listener hears the answer or why there is none.
   */
  function finish(flight: Flight, error?: Error, cut = false): void {
    if (flight.settled) return;
    flight.settled = true;
    flights.delete(flight);
    if (flights.size === 0) disarmDeadline();
    const { session } = flight;
    if (flight.streamId !== undefined) {
      session.streams -= 1;
      if (cut) session.connection?.cancel(flight.streamId);
    }
    release(session);
    // Once a status arrived it is the answer, whatever happens to the stream after.
    if (flight.status > 0 && !cut) {
      flight.listener.answered(flight.request, flight.status, flight.retryAfter);
    } else {
      flight.listener.failed(flight.request, toPushError(error));
    }
  }

  /** What every stream of this origin hears, with its flight as the tag. */
  const streamListener: StreamListener<Flight> = {
    onResponse(flight, status, retryAfter) {
      flight.status = status;
      flight.retryAfter = retryAfter;
    },
    onData(flight, bytes) {
      flight.received += bytes;
      if (flight.received <= MAX_RESPONSE_BYTES || flight.streamId === undefined) return;
      // Enough read: the status is the answer.
      flight.session.connection?.cancel(flight.streamId);
      finish(flight);
    },
    onClose: (flight, error) => finish(flight, error),
  };

  function start(flight: Flight): void {
    if (flight.settled) return;
    const { session } = flight;
    const connection = session.connection;
    if (connection === undefined) {
      session.waiting.push(flight);
      return;
    }
    if (session.streams >= streamLimit(connection) || !connection.usable) {
      // The server allows fewer streams than assumed, or the session is going away.
      release(session);
      flight.session = reserve();
      start(flight);
      return;
    }
    session.streams += 1;
    flight.streamId = connection.request(
      encoder.encode(flight.request),
      flight.request.body,
      streamListener,
      flight,
    );
  }

  function post<R extends PushRequest>(request: R, listener: PushAnswerListener<R>): void {
    const flight = new Flight(
      request,
      listener as PushAnswerListener<PushRequest>,
      reserve(),
      Date.now() + timeoutMs,
    );
    flights.add(flight);
    armDeadline();
    start(flight);
  }

  return {
    request(request, listener) {
      if (closed) {
        queueMicrotask(() => listener.failed(request, closedError()));
        return;
      }
      post(request, listener);
    },
    close(error) {
      closed = true;
      for (const flight of [...flights]) finish(flight, error, true);
      disarmDeadline();
      for (const session of [...sessions]) {
        retire(session);
        session.connection?.destroy(error);
      }
    },
  };
}
