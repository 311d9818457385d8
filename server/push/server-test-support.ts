/**
 * Test support: push-service stand-ins that record every request and answer as a test says.
 * @packageDocumentation
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
  type Settings,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createSelfSignedCertificate } from '../../push-service/index.js';

/** One request as the stand-in received it. */
export interface Recorded {
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  httpVersion: string;
}

/** A running stand-in. */
export interface PushServer {
  origin: string;
  requests: Recorded[];
  /** TCP connections accepted. */
  connections: number;
  server: Server;
}

/** Answers the `index`-th request (from 0). */
export type Handler = (req: IncomingMessage, res: ServerResponse, index: number) => void;

const servers: Server[] = [];

/** Closes every stand-in started so far; call it in `afterEach`. */
export async function closePushServers(): Promise<void> {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
}

/**
 * Starts an HTTP/1.1 push-service stand-in on 127.0.0.1.
 * @param handler - answers each request once its body has arrived
 * @returns the running stand-in
 */
export async function startPushServer(handler: Handler): Promise<PushServer> {
  const state = { requests: [] as Recorded[], connections: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const index = state.requests.length;
      state.requests.push({
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        httpVersion: req.httpVersion,
      });
      handler(req, res, index);
    });
  });
  server.on('connection', () => {
    state.connections += 1;
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    get connections() {
      return state.connections;
    },
    server,
  };
}

/**
 * A handler that answers the n-th request with `statuses[n]` (the last one repeats).
 * @param statuses - statuses in order
 * @param headers - headers of each answer, by the same index
 * @returns the handler
 */
export function scripted(statuses: number[], headers: Record<string, string>[] = []): Handler {
  return (_req, res, index) => {
    const at = Math.min(index, statuses.length - 1);
    res.writeHead(statuses[at] ?? 500, headers[at] ?? {});
    res.end();
  };
}

/** A running HTTP/2 (TLS) stand-in. */
export interface Http2PushServer {
  /** `https://localhost:PORT`. */
  origin: string;
  requests: Recorded[];
  /** HTTP/2 sessions opened by clients. */
  sessions: ServerHttp2Session[];
  /** Certificate to trust (`ca`). */
  ca: string;
  server: Http2SecureServer;
}

/** Answers the `index`-th request (from 0) of an HTTP/2 stand-in. */
export type Http2Handler = (
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  index: number,
) => void;

let certificate: { key: string; cert: string } | undefined;
const secureServers: { server: Http2SecureServer; sessions: ServerHttp2Session[] }[] = [];

/** Closes every HTTP/2 stand-in started so far; call it in `afterEach`. */
export async function closeHttp2PushServers(): Promise<void> {
  await Promise.all(
    secureServers.splice(0).map(
      ({ server, sessions }) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const session of sessions) session.destroy();
        }),
    ),
  );
}

/**
 * Starts an HTTP/2 push-service stand-in (TLS, ALPN `h2` only unless `allowHTTP1`) on
 * 127.0.0.1, with a self-signed certificate for `localhost`.
 * @param handler - answers each request once its body has arrived
 * @param options - server SETTINGS, and whether HTTP/1.1 clients are served too
 * @returns the running stand-in
 */
export async function startHttp2PushServer(
  handler: Http2Handler,
  options: { settings?: Settings; allowHTTP1?: boolean } = {},
): Promise<Http2PushServer> {
  certificate ??= createSelfSignedCertificate({ hosts: ['localhost'] });
  const requests: Recorded[] = [];
  const sessions: ServerHttp2Session[] = [];
  const server = createSecureServer(
    {
      key: certificate.key,
      cert: certificate.cert,
      allowHTTP1: options.allowHTTP1 ?? false,
      ...(options.settings === undefined ? {} : { settings: options.settings }),
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const index = requests.length;
        requests.push({
          url: req.url,
          headers: req.headers as IncomingMessage['headers'],
          body: Buffer.concat(chunks),
          httpVersion: req.httpVersion,
        });
        handler(req, res, index);
      });
    },
  );
  server.on('session', (session) => {
    sessions.push(session);
    session.on('error', () => {});
  });
  server.on('sessionError', () => {});
  secureServers.push({ server, sessions });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `https://localhost:${port}`, requests, sessions, ca: certificate.cert, server };
}

/**
 * A handler for HTTP/1.1 and HTTP/2 stand-ins that answers the n-th request with
 * `statuses[n]` (the last one repeats).
 * @param statuses - statuses in order
 * @param headers - headers of each answer, by the same index
 * @returns the handler
 */
export function scripted2(
  statuses: number[],
  headers: Record<string, string>[] = [],
): Http2Handler {
  return (_req, res, index) => {
    const at = Math.min(index, statuses.length - 1);
    res.writeHead(statuses[at] ?? 500, headers[at] ?? {});
    res.end();
  };
}
