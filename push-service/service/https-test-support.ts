/**
 * Sending to the push service over any of its transports, for tests: `fetch` for a plain
 * service, and for a secure one HTTP/2 (`http2.connect`, one session per origin, like a real
 * HTTP/2 sender) or HTTPS/1.1 (`https.request` with ALPN `http/1.1`), trusting the service's
 * certificate. A test says once which transport a secure service gets ({@link trust}); every
 * helper that sends to its origin then uses it, so the same tests run over all three.
 */
import { once } from 'node:events';
import { type ClientHttp2Session, connect } from 'node:http2';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { startPushService } from './service.js';
import type { PushService, PushServiceOptions } from './types.js';

/** How a secure service is reached. */
export type SecureTransport = 'h2' | 'http/1.1';

/** One request: what `fetch` takes, reduced to what the tests send. */
export interface SendInit {
  method: string;
  headers?: Record<string, string>;
  body?: Uint8Array<ArrayBuffer> | null;
}

/** An answer with the protocol ALPN settled on (`false` when none was negotiated). */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  protocol: string | false;
}

const trusted = new Map<string, { ca: string; transport: SecureTransport }>();
const sessions = new Map<string, ClientHttp2Session>();

/**
 * Trusts a secure service's certificate and picks the transport for its origin.
 * @param service - a service started with `secure`
 * @param transport - HTTP/2 or HTTPS/1.1
 */
export function trust(service: PushService, transport: SecureTransport = 'h2'): void {
  if (service.ca === null) throw new Error('not a secure service');
  trusted.set(service.origin, { ca: service.ca, transport });
}

/**
 * The HTTP/2 session to an origin, opened on first use and forgotten once it closes.
 * @returns the session, connected
 */
export async function sessionTo(origin: string, ca: string): Promise<ClientHttp2Session> {
  const open = sessions.get(origin);
  if (open && !open.closed && !open.destroyed) return open;
  const session = connect(origin, { ca });
  session.on('error', () => {});
  session.on('close', () => {
    if (sessions.get(origin) === session) sessions.delete(origin);
  });
  sessions.set(origin, session);
  await once(session, 'connect');
  return session;
}

const lowerCase = (headers: Record<string, string> = {}) =>
  Object.fromEntries(
    Object.entries(headers)
      // HTTP/2 wants lower-case names and computes the length from the frames.
      .filter(([name]) => name.toLowerCase() !== 'content-length')
      .map(([name, value]) => [name.toLowerCase(), value]),
  );

const flatten = (headers: Record<string, string | string[] | number | undefined>) =>
  Object.fromEntries(
    Object.entries(headers)
      .filter(([name, value]) => !name.startsWith(':') && value !== undefined)
      .map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]),
  );

/**
 * Sends one request on an HTTP/2 session.
 * @returns the answer
 */
export async function sendOverHttp2(
  session: ClientHttp2Session,
  url: string,
  { method, headers, body }: SendInit,
): Promise<RawAnswer> {
  const { pathname, search } = new URL(url);
  const stream = session.request({
    ':method': method,
    ':path': `${pathname}${search}`,
    ...lowerCase(headers),
  });
  stream.end(body ? Buffer.from(body) : undefined);
  const [responseHeaders] = (await once(stream, 'response')) as [
    Record<string, string | string[] | number | undefined>,
  ];
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return {
    status: Number(responseHeaders[':status']),
    headers: flatten(responseHeaders),
    body: Buffer.concat(chunks),
    protocol: session.alpnProtocol ?? false,
  };
}

/**
 * Sends one request over HTTPS/1.1 on a new connection.
 * @returns the answer
 */
export function sendOverHttps(url: string, ca: string, init: SendInit): Promise<RawAnswer> {
  const body = init.body ? Buffer.from(init.body) : null;
  const headers = {
    ...init.headers,
    ...(body ? { 'content-length': String(body.byteLength) } : {}),
  };
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      // tls.connect options pass through; the type only lists some of them.
      {
        method: init.method,
        headers,
        ca,
        ALPNProtocols: ['http/1.1'],
        agent: false,
      } as RequestOptions,
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: flatten(response.headers),
            body: Buffer.concat(chunks),
            protocol: (response.socket as TLSSocket).alpnProtocol ?? false,
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body ?? undefined);
  });
}

/**
 * Sends a request the way the tests' service wants: `fetch` for http, the trusted transport for
 * https.
 * @returns a `Response`, whichever way it went
 */
export async function send(url: string, init: SendInit): Promise<Response> {
  const { origin, protocol } = new URL(url);
  if (protocol === 'http:') {
    return fetch(url, { method: init.method, headers: init.headers, body: init.body ?? null });
  }
  const trust = trusted.get(origin);
  if (!trust) throw new Error(`no certificate trusted for ${origin}`);
  const answer =
    trust.transport === 'h2'
      ? await sendOverHttp2(await sessionTo(origin, trust.ca), url, init)
      : await sendOverHttps(url, trust.ca, init);
  const empty = answer.body.byteLength === 0 || answer.status === 204;
  return new Response(empty ? null : new Uint8Array(answer.body), {
    status: answer.status,
    headers: answer.headers,
  });
}

/** One way of reaching the service: its options and, when secure, the transport. */
export interface Mode {
  name: string;
  options: PushServiceOptions;
  transport?: SecureTransport;
}

/** Plain HTTP/1.1, the default service. */
export const PLAIN: Mode = { name: 'plain HTTP/1.1', options: {} };
/** The secure service over HTTP/2. */
export const HTTP2: Mode = { name: 'HTTP/2 over TLS', options: { secure: true }, transport: 'h2' };
/** The secure service over HTTPS/1.1. */
export const HTTPS1: Mode = { name: 'HTTPS/1.1', options: { secure: true }, transport: 'http/1.1' };

/**
 * Starts a service in `mode` and trusts it.
 * @param options - more options (they win over the mode's)
 * @returns the service
 */
export async function startIn(mode: Mode, options: PushServiceOptions = {}): Promise<PushService> {
  const service = await startPushService({ ...mode.options, ...options });
  if (mode.transport) trust(service, mode.transport);
  return service;
}
