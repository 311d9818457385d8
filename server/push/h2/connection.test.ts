import { randomBytes } from 'node:crypto';
import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
  type Settings,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createSelfSignedCertificate } from '../../../push-service/index.js';
import { parsePushEndpoint } from '../endpoint.js';
import type { PushRequest } from '../http-types.js';
import { connectTls } from '../tls-connect.js';
import { createHttp2Connection, type Http2Connection, type StreamListener } from './connection.js';
import { createPushHeaderEncoder } from './hpack-encode.js';

const certificate = createSelfSignedCertificate({ hosts: ['localhost'] });
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
  stream: ServerHttp2Stream;
}

/** A real node:http2 server; `answer` runs once a request's body is in. */
async function startServer(
  answer: (received: Received, index: number) => void,
  settings?: Settings,
): Promise<{ origin: string; received: Received[]; sessions: ServerHttp2Session[] }> {
  const received: Received[] = [];
  const sessions: ServerHttp2Session[] = [];
  const server: Http2SecureServer = createSecureServer({
    key: certificate.key,
    cert: certificate.cert,
    ...(settings === undefined ? {} : { settings }),
  });
  server.on('session', (session) => {
    sessions.push(session);
    session.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const entry = { headers, body: Buffer.concat(chunks), stream };
      received.push(entry);
      answer(entry, received.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const session of sessions) session.destroy();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { origin: `https://localhost:${port}`, received, sessions };
}

async function connect(origin: string): Promise<Http2Connection> {
  const socket = await connectTls(parsePushEndpoint(`${origin}/`), {
    ca: certificate.cert,
    timeoutMs: 2_000,
  });
  expect(socket.alpnProtocol).toBe('h2');
  const connection = createHttp2Connection(socket);
  cleanups.push(() => connection.destroy(new Error('test over')));
  await connection.ready;
  return connection;
}

function pushRequest(origin: string, path: string, body: Buffer): PushRequest {
  return {
    endpoint: parsePushEndpoint(`${origin}${path}`),
    authorization: `vapid t=${'a'.repeat(300)}, k=${'b'.repeat(87)}`,
    ttlSeconds: 60,
    urgency: 'high',
    topic: 'stock-42',
    body,
  };
}

interface Outcome {
  status?: number;
  retryAfter?: string | undefined;
  bytes: number;
  error?: Error | undefined;
}

/** One listener for every stream: the tag says whose outcome an event belongs to. */
const outcomeListener: StreamListener<{ outcome: Outcome; resolve(outcome: Outcome): void }> = {
  onResponse({ outcome }, status, retryAfter) {
    outcome.status = status;
    outcome.retryAfter = retryAfter;
  },
  onData({ outcome }, bytes) {
    outcome.bytes += bytes;
  },
  onClose({ outcome, resolve }, error) {
    outcome.error = error;
    resolve(outcome);
  },
};

function send(connection: Http2Connection, request: PushRequest): Promise<Outcome> {
  const encoder = createPushHeaderEncoder(request.endpoint.origin.slice('https://'.length));
  return new Promise((resolve) => {
    const outcome: Outcome = { bytes: 0 };
    connection.request(encoder.encode(request), request.body, outcomeListener, {
      outcome,
      resolve,
    });
  });
}

describe('createHttp2Connection against node:http2', () => {
  it('sends 300 requests at once on one connection, every header and body intact', async () => {
    const server = await startServer(({ stream }, index) => {
      stream.respond({ ':status': 201, location: `/m/${index}` });
      stream.end();
    });
    const connection = await connect(server.origin);
    const bodies = Array.from({ length: 300 }, (_, i) => randomBytes(1000 + i * 10));
    const outcomes = await Promise.all(
      bodies.map((body, i) => send(connection, pushRequest(server.origin, `/push/${i}?x=1`, body))),
    );
    expect(outcomes.every((outcome) => outcome.status === 201 && outcome.error === undefined)).toBe(
      true,
    );
    expect(server.sessions).toHaveLength(1);
    expect(server.received).toHaveLength(300);
    for (const { headers, body } of server.received) {
      const i = Number(/\/push\/(\d+)/.exec(headers[':path'] ?? '')?.[1]);
      expect(headers[':path']).toBe(`/push/${i}?x=1`);
      expect(body.equals(bodies[i] as Buffer)).toBe(true);
      expect(headers[':method']).toBe('POST');
      expect(headers[':scheme']).toBe('https');
      expect(headers[':authority']).toBe(server.origin.slice('https://'.length));
      expect(headers['content-length']).toBe(String(body.length));
      expect(headers['content-encoding']).toBe('aes128gcm');
      expect(headers['content-type']).toBe('application/octet-stream');
      expect(headers.ttl).toBe('60');
      expect(headers.urgency).toBe('high');
      expect(headers.topic).toBe('stock-42');
      expect(headers.authorization).toMatch(/^vapid t=a{300}, k=b{87}$/);
    }
    expect(connection.openStreams).toBe(0);
  });

  it('keeps to flow control: bodies larger than the stream window arrive whole', async () => {
    // A 1,000-byte stream window: each 4 KiB body needs several DATA frames and WINDOW_UPDATEs.
    const server = await startServer(
      ({ stream }) => {
        stream.respond({ ':status': 201 });
        stream.end();
      },
      { initialWindowSize: 1000 },
    );
    const connection = await connect(server.origin);
    const bodies = Array.from({ length: 40 }, () => randomBytes(4000));
    const outcomes = await Promise.all(
      bodies.map((body, i) => send(connection, pushRequest(server.origin, `/w/${i}`, body))),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual(bodies.map(() => 201));
    for (const { headers, body } of server.received) {
      const i = Number(headers[':path']?.slice(3));
      expect(body.equals(bodies[i] as Buffer)).toBe(true);
    }
  });

  it('sends more than the 65,535-byte connection window when the server tops it up', async () => {
    const server = await startServer(({ stream }) => {
      stream.respond({ ':status': 201 });
      stream.end();
    });
    const connection = await connect(server.origin);
    const bodies = Array.from({ length: 100 }, () => randomBytes(4000));
    const outcomes = await Promise.all(
      bodies.map((body, i) => send(connection, pushRequest(server.origin, `/c/${i}`, body))),
    );
    expect(outcomes.filter((outcome) => outcome.status === 201)).toHaveLength(100);
    expect(server.received.reduce((sum, { body }) => sum + body.length, 0)).toBe(400_000);
  });

  it('reads Retry-After, a response body, and headers split over CONTINUATION frames', async () => {
    const long = 'x'.repeat(40_000);
    const server = await startServer(({ stream }, index) => {
      if (index === 0) {
        stream.respond({ ':status': 429, 'retry-after': '7' });
        stream.end();
      } else if (index === 1) {
        stream.respond({ ':status': 400, 'content-type': 'text/plain' });
        stream.end(Buffer.alloc(50_000, 1));
      } else {
        stream.respond({ ':status': 201, 'x-long': long });
        stream.end();
      }
    });
    const connection = await connect(server.origin);
    const body = randomBytes(100);
    const limited = await send(connection, pushRequest(server.origin, '/a', body));
    expect(limited).toMatchObject({ status: 429, retryAfter: '7', bytes: 0 });
    const withBody = await send(connection, pushRequest(server.origin, '/b', body));
    expect(withBody).toMatchObject({ status: 400, bytes: 50_000, error: undefined });
    const longHead = await send(connection, pushRequest(server.origin, '/c', body));
    expect(longHead).toMatchObject({ status: 201, error: undefined });
    // The HPACK table is still in step: another request after the long head is understood.
    expect(await send(connection, pushRequest(server.origin, '/d', body))).toMatchObject({
      status: 201,
    });
  });

  it('answers the server’s PING and applies SETTINGS changed mid-connection', async () => {
    const server = await startServer(({ stream }) => {
      stream.respond({ ':status': 201 });
      stream.end();
    });
    const connection = await connect(server.origin);
    const session = server.sessions[0] as ServerHttp2Session;
    const pinged = await new Promise<boolean>((resolve) =>
      session.ping((error) => resolve(error === null)),
    );
    expect(pinged).toBe(true);
    await new Promise<void>((resolve) =>
      session.settings({ maxConcurrentStreams: 5, initialWindowSize: 500 }, () => resolve()),
    );
    expect(connection.maxConcurrentStreams).toBe(5);
    const body = randomBytes(3000);
    expect(await send(connection, pushRequest(server.origin, '/s', body))).toMatchObject({
      status: 201,
    });
    expect(server.received[0]?.body.equals(body)).toBe(true);
  });

  it('fails a stream the server resets, and keeps the connection for the others', async () => {
    const server = await startServer(({ stream }, index) => {
      if (index === 0) stream.close(constants.NGHTTP2_REFUSED_STREAM);
      else {
        stream.respond({ ':status': 201 });
        stream.end();
      }
    });
    const connection = await connect(server.origin);
    const reset = await send(connection, pushRequest(server.origin, '/r', randomBytes(10)));
    expect(reset.status).toBeUndefined();
    expect(reset.error?.message).toMatch(/reset by the server \(code 7\)/);
    expect(connection.usable).toBe(true);
    expect(
      await send(connection, pushRequest(server.origin, '/ok', randomBytes(10))),
    ).toMatchObject({ status: 201 });
  });

  it('on GOAWAY, finishes the streams the server took and fails the rest, taking no new ones', async () => {
    let goaway = false;
    const server = await startServer(({ stream, headers }) => {
      if (headers[':path'] === '/g/2') {
        // Streams 1, 3 and 5 (/g/0 to /g/2) were taken; those after are not processed.
        stream.session?.goaway(constants.NGHTTP2_NO_ERROR, 5);
        goaway = true;
      }
      setTimeout(() => {
        if (stream.destroyed || stream.closed) return;
        stream.respond({ ':status': 201 });
        stream.end();
      }, 50);
    });
    const socket = await connectTls(parsePushEndpoint(`${server.origin}/`), {
      ca: certificate.cert,
      timeoutMs: 2_000,
    });
    let heard = 0;
    const connection = createHttp2Connection(socket, { onGoaway: () => (heard += 1) });
    cleanups.push(() => connection.destroy(new Error('test over')));
    await connection.ready;
    const outcomes = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) =>
        send(connection, pushRequest(server.origin, `/g/${i}`, randomBytes(10))),
      ),
    );
    expect(goaway).toBe(true);
    expect(heard).toBe(1);
    expect(outcomes.slice(0, 3).map((outcome) => outcome.status)).toEqual([201, 201, 201]);
    for (const outcome of outcomes.slice(3)) {
      expect(outcome.status).toBeUndefined();
      expect(outcome.error?.message).toMatch(/GOAWAY \(code 0\): the server did not process/);
    }
    expect(connection.usable).toBe(false);
    expect(() =>
      connection.request(
        Buffer.alloc(1),
        Buffer.alloc(1),
        { onResponse() {}, onData() {}, onClose() {} },
        undefined,
      ),
    ).toThrow(/no new streams/);
  });

  it('fails every open stream when the server drops the connection', async () => {
    const server = await startServer(({ stream }) => {
      stream.session?.destroy();
    });
    const connection = await connect(server.origin);
    const outcomes = await Promise.all(
      [0, 1, 2].map((i) =>
        send(connection, pushRequest(server.origin, `/d/${i}`, randomBytes(10))),
      ),
    );
    for (const outcome of outcomes) {
      expect(outcome.status).toBeUndefined();
      expect(outcome.error).toBeInstanceOf(Error);
    }
    expect(connection.usable).toBe(false);
  });

  it('cancels a stream with RST_STREAM CANCEL, which the server sees', async () => {
    const codes: number[] = [];
    const server = await startServer(({ stream }) => {
      stream.on('close', () => codes.push(stream.rstCode));
    });
    const connection = await connect(server.origin);
    const encoder = createPushHeaderEncoder(server.origin.slice('https://'.length));
    const request = pushRequest(server.origin, '/x', randomBytes(10));
    let heard = false;
    const id = connection.request(
      encoder.encode(request),
      request.body,
      {
        onResponse() {
          heard = true;
        },
        onData() {},
        onClose() {
          heard = true;
        },
      },
      undefined,
    );
    while (server.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    connection.cancel(id);
    while (codes.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(codes).toEqual([constants.NGHTTP2_CANCEL]);
    expect(heard).toBe(false);
    expect(connection.openStreams).toBe(0);
  });
});

describe('createHttp2Connection against a server that breaks the protocol', () => {
  async function rawServer(reply: (socket: TLSSocket) => void): Promise<string> {
    const server = createTlsServer(
      { key: certificate.key, cert: certificate.cert, ALPNProtocols: ['h2'] },
      (socket) => {
        socket.on('error', () => {});
        socket.once('data', () => reply(socket));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => server.close());
    return `https://localhost:${(server.address() as AddressInfo).port}`;
  }

  it('ends the connection when the server preface is not SETTINGS, and says why', async () => {
    const origin = await rawServer((socket) => {
      // A PING as the first frame.
      socket.write(Buffer.from([0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
    });
    const socket = await connectTls(parsePushEndpoint(`${origin}/`), {
      ca: certificate.cert,
      timeoutMs: 2_000,
    });
    const connection = createHttp2Connection(socket);
    await expect(connection.ready).rejects.toThrow(/preface is not SETTINGS/);
    expect(connection.usable).toBe(false);
  });

  it('ends the connection on a PUSH_PROMISE, which it never asked for', async () => {
    const origin = await rawServer((socket) => {
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      // PUSH_PROMISE on stream 1, promising stream 2.
      socket.write(Buffer.from([0, 0, 5, 5, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0x82]));
    });
    const socket = await connectTls(parsePushEndpoint(`${origin}/`), {
      ca: certificate.cert,
      timeoutMs: 2_000,
    });
    let closed = false;
    const connection = createHttp2Connection(socket, { onClose: () => (closed = true) });
    await connection.ready;
    while (!closed) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(connection.usable).toBe(false);
  });
});
