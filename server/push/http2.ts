/**
 * HTTP/2 to one push-service origin: requests multiplexed as streams over as few sessions as
 * the server's stream limit allows.
 * @packageDocumentation
 */
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type OutgoingHttpHeaders,
} from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { PushEndpoint } from './endpoint.js';
import { PushRequestError } from './errors.js';
import {
  firstHeader,
  MAX_RESPONSE_BYTES,
  type OriginTransport,
  type PushHttpResponse,
  type PushRequest,
  pushHeaders,
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

/** Streams a server allows when its SETTINGS leave the limit out (RFC 9113: unlimited). */
const UNLIMITED_STREAMS = 2 ** 31 - 1;

interface Session {
  /** Set once connected and the server's SETTINGS arrived. */
  http2: ClientHttp2Session | undefined;
  ready: Promise<ClientHttp2Session>;
  /** Requests on this session: streams open, or waiting for the session to be ready. */
  reserved: number;
  /** Streams open. */
  streams: number;
  /** The server's `SETTINGS_MAX_CONCURRENT_STREAMS`. */
  limit: number;
  /** Takes no new streams: GOAWAY received, failed, closing or idle-closed. */
  draining: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

/** One request's state. */
interface Flight {
  session: Session;
  stream: ClientHttp2Stream | undefined;
  settled: boolean;
  fail(error: Error): void;
}

const closedError = () => new PushRequestError('PUSH_CLOSED', 'push HTTP client is closed');

/**
 * Creates the HTTP/2 transport of one https origin.
 * @param options - where, deadlines and trust
 * @returns the transport
 * @remarks
 * - A request goes on the first session with a free stream; when every session is at its
 *   server's `maxConcurrentStreams`, another session is opened. A session sends nothing before
 *   the server's SETTINGS arrive (the first frame a server sends); the requests that came
 *   meanwhile wait on it, and those past its limit then move on to another session instead of
 *   queueing inside this one. The lane in front bounds requests in flight, so there are never
 *   more sessions than `concurrencyPerOrigin` needs.
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
  let closed = false;

  function retire(session: Session): void {
    session.draining = true;
    clearTimeout(session.idleTimer);
    const at = sessions.indexOf(session);
    if (at !== -1) sessions.splice(at, 1);
    if (session.reserved === 0) session.http2?.close();
  }

  function whenReady(session: Session, socket: TLSSocket): Promise<ClientHttp2Session> {
    if (socket.alpnProtocol !== 'h2') {
      socket.destroy();
      throw new NotHttp2Error(`${endpoint.origin} does not speak HTTP/2`);
    }
    if (closed) {
      socket.destroy();
      throw closedError();
    }
    const http2 = connect(endpoint.origin, {
      createConnection: () => socket,
      settings: { enablePush: false },
    });
    // Streams the server already took finish; the rest fail and are retried elsewhere.
    http2.on('goaway', () => retire(session));
    http2.on('close', () => retire(session));
    return new Promise((resolve, reject) => {
      http2.on('error', (error) => {
        retire(session);
        reject(error);
      });
      http2.once('close', () => reject(new Error('session closed before its SETTINGS')));
      http2.on('remoteSettings', (settings) => {
        session.limit = Math.max(1, settings.maxConcurrentStreams ?? UNLIMITED_STREAMS);
        session.http2 = http2;
        resolve(http2);
      });
    });
  }

  function open(): Session {
    const session: Session = {
      http2: undefined,
      ready: connectTls(endpoint, { ca, timeoutMs }).then((socket) => whenReady(session, socket)),
      reserved: 0,
      streams: 0,
      limit: UNLIMITED_STREAMS,
      draining: false,
      idleTimer: undefined,
    };
    session.ready.catch(() => retire(session));
    sessions.push(session);
    return session;
  }

  function usable(session: Session): boolean {
    const { http2 } = session;
    if (session.draining) return false;
    // Until its SETTINGS say how many streams it takes, a connecting session takes every
    // request: those past its limit move on once it is ready, so the sessions opened are
    // exactly those the limit calls for.
    if (http2 === undefined) return true;
    return session.reserved < session.limit && !http2.closed && !http2.destroyed;
  }

  function reserve(): Session {
    const session = sessions.find(usable) ?? open();
    session.reserved += 1;
    clearTimeout(session.idleTimer);
    session.idleTimer = undefined;
    session.http2?.ref();
    return session;
  }

  function release(session: Session): void {
    session.reserved -= 1;
    if (session.reserved > 0) return;
    // A draining session closes once its last stream is done.
    if (session.draining) {
      session.http2?.close();
      return;
    }
    session.http2?.unref();
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

  function post(request: PushRequest): Promise<PushHttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: OutgoingHttpHeaders = pushHeaders(request, {
        ':method': 'POST',
        ':path': request.endpoint.path,
      });
      let response: PushHttpResponse | undefined;
      const flight: Flight = {
        session: reserve(),
        stream: undefined,
        settled: false,
        fail: (error) => finish(error, true),
      };
      const timer = setTimeout(() => {
        flight.fail(
          new PushRequestError(
            'PUSH_TIMEOUT',
            `no answer from ${endpoint.origin} in ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      flights.add(flight);

      function finish(error?: Error, cut = false): void {
        if (flight.settled) return;
        flight.settled = true;
        clearTimeout(timer);
        flights.delete(flight);
        const { session } = flight;
        if (flight.stream !== undefined) {
          session.streams -= 1;
          if (cut) flight.stream.close(constants.NGHTTP2_CANCEL);
        }
        // A stream ended by its session's death: no retry may pick that session again, even
        // before the session's own 'close' comes.
        if (session.http2?.destroyed === true || session.http2?.closed === true) retire(session);
        release(session);
        // Once a status arrived it is the answer, whatever happens to the stream after.
        if (response !== undefined && !cut) resolve(response);
        else reject(toPushError(error));
      }

      function start(): void {
        if (flight.settled) return;
        const { session } = flight;
        const http2 = session.http2;
        if (http2 === undefined) {
          session.ready.then(start, (error: Error) => finish(error));
          return;
        }
        if (session.streams >= session.limit || session.draining) {
          // The server allows fewer streams than assumed, or the session is going away.
          release(session);
          flight.session = reserve();
          start();
          return;
        }
        let stream: ClientHttp2Stream;
        try {
          stream = http2.request(headers, { endStream: false });
        } catch (error) {
          // The session went away between the choice and the request.
          retire(session);
          finish(error as Error);
          return;
        }
        session.streams += 1;
        flight.stream = stream;
        stream.on('response', (answer) => {
          response = {
            status: Number(answer[':status'] ?? 0),
            retryAfter: firstHeader(answer['retry-after']),
          };
        });
        let bytes = 0;
        stream.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_RESPONSE_BYTES) stream.close(constants.NGHTTP2_CANCEL);
        });
        stream.on('error', (error) => finish(error));
        stream.on('close', () => finish());
        stream.end(request.body);
      }

      start();
    });
  }

  return {
    request(request) {
      if (closed) return Promise.reject(closedError());
      return post(request);
    },
    close(error) {
      closed = true;
      for (const flight of [...flights]) flight.fail(error);
      for (const session of [...sessions]) {
        retire(session);
        session.http2?.destroy();
      }
    },
  };
}
