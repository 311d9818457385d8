/**
 * The application-server side over TLS: one `node:http2` secure server with `allowHTTP1`, so
 * that ALPN `h2` gets HTTP/2 and `http/1.1` (or no ALPN) gets HTTPS/1.1, both handled by the same
 * handler and so the same checks and faults: HTTP/2 streams through the core API, HTTPS/1.1
 * requests through `node:http`'s (see `exchange.ts`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import type { TlsCertificate } from './certificate.js';
import { http1Exchange, http2Exchange } from './exchange.js';
import { listen } from './listen.js';
import type { PushExchangeHandler } from './push-endpoint.js';

/** The receive window of each HTTP/2 connection, for every stream together. */
const CONNECTION_WINDOW_BYTES = 4 * 1024 * 1024;

/** Options of {@link startSecureServer}. */
export interface SecureServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  tls: TlsCertificate;
  handler: PushExchangeHandler;
}

/** A listening secure server. */
export interface SecureServer {
  port: number;
  /** Stops listening and cuts every connection (HTTP/2 sessions included). */
  close(): Promise<void>;
}

/**
 * Starts the secure server.
 * @param options - where to listen, the certificate and the request listener
 * @returns the server, once it listens
 * @throws what `listen` fails with
 */
export async function startSecureServer({
  host,
  port,
  tls,
  handler,
}: SecureServerOptions): Promise<SecureServer> {
  const server = createSecureServer({ key: tls.key, cert: tls.cert, allowHTTP1: true });
  // HTTPS/1.1 requests arrive as `request` events. Listening for them also makes the server wrap
  // every HTTP/2 stream for its compatibility API; that wrapping is taken off again, and the
  // streams go to the handler as they are.
  const compatibility = new Set(server.listeners('stream'));
  // With that wrapping gone, only HTTPS/1.1 requests (`node:http`'s objects) come this way, whatever
  // the event's declared types say.
  server.on('request', (request: unknown, response: unknown) =>
    handler(http1Exchange(request as IncomingMessage, response as ServerResponse)),
  );
  for (const listener of server.listeners('stream')) {
    if (!compatibility.has(listener)) server.off('stream', listener as () => void);
  }
  server.on('stream', (stream, headers) => handler(http2Exchange(stream, headers)));
  // Every TCP connection, handshake or not: an HTTP/2 session would otherwise keep close waiting.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  // HTTP/2 starts every connection with a 64 KiB receive window: a sender could then have only
  // 64 KiB of messages on the way per round trip, whatever its concurrency. A push service takes
  // thousands of messages at once from one application server, so the window is opened wide.
  server.on('session', (session) => {
    session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
  });
  // A client that breaks its session must not take the service down; nothing else to do.
  server.on('sessionError', () => {});
  const actual = await listen(server, port, host);
  let closing: Promise<void> | null = null;
  return {
    port: actual,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
