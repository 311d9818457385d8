import { constants, type Http2ServerResponse } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSelfSignedCertificate } from '../../push-service/index.js';
import { generateVapidKeys } from '../vapid.js';
import { createPushSender, type PushSender, type PushSenderOptions } from './sender.js';
import {
  closeHttp2PushServers,
  closePushServers,
  type Http2PushServer,
  scripted,
  scripted2,
  startHttp2PushServer,
  startPushServer,
} from './server-test-support.js';
import { createUserAgentKeys, decryptPushMessage } from './test-support.js';

const vapidKeys = generateVapidKeys();
const vapid = { subject: 'mailto:ops@example.com', ...vapidKeys };
const ua = createUserAgentKeys();
const message = Buffer.from('{"v":1,"id":"r:1","tab":"t","reg":"r","seq":1,"type":"next"}');
const senders: PushSender[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(senders.splice(0).map((sender) => sender.close()));
  await Promise.all(closers.splice(0).map((close) => close()));
  await closeHttp2PushServers();
  await closePushServers();
});

function sender(push: { ca: string } | undefined, options: Partial<PushSenderOptions> = {}) {
  const waits: number[] = [];
  const instance = createPushSender({
    vapid,
    timeoutMs: 2_000,
    encryptionWorkers: 0,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
    random: () => 0.5,
    ...(push === undefined ? {} : { ca: push.ca }),
    ...options,
  });
  senders.push(instance);
  return { sender: instance, waits };
}

const target = (push: { origin: string }, path = '/push/sub-1') => ({
  endpoint: `${push.origin}${path}`,
  keys: ua.keys,
});

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('createPushSender over HTTP/2', () => {
  it('POSTs over HTTP/2 to an https origin that chooses h2, with every push header', async () => {
    const push = await startHttp2PushServer(scripted2([201]));
    const { sender: s } = sender(push);

    const result = await s.send(target(push), message, {
      ttlSeconds: 60,
      urgency: 'high',
      topic: 'stock-42',
    });

    expect(result).toEqual({ ok: true, status: 201, attempts: 1 });
    const [request] = push.requests;
    expect(request?.httpVersion).toBe('2.0');
    expect(request?.url).toBe('/push/sub-1');
    expect(request?.headers).toMatchObject({
      ':method': 'POST',
      ':scheme': 'https',
      ttl: '60',
      'content-encoding': 'aes128gcm',
      'content-type': 'application/octet-stream',
      'content-length': String(86 + message.length + 17),
      urgency: 'high',
      topic: 'stock-42',
    });
    expect(request?.headers.authorization).toMatch(/^vapid t=.+, k=/);
    expect(decryptPushMessage(request?.body ?? Buffer.alloc(0), ua).equals(message)).toBe(true);
  });

  it('multiplexes 200 concurrent sends as streams of one session', async () => {
    const held: Http2ServerResponse[] = [];
    // Answers nothing until all 200 are in: they can only all arrive if all are in flight.
    const push = await startHttp2PushServer((_req, res) => {
      held.push(res);
      if (held.length === 200) for (const r of held) r.writeHead(201).end();
    });
    const { sender: s } = sender(push);

    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        s.send(target(push, `/push/${i}`), message, { ttlSeconds: 60 }),
      ),
    );

    expect(results.every((r) => r.ok && r.attempts === 1)).toBe(true);
    expect(push.requests.length).toBe(200);
    expect(push.sessions.length).toBe(1);
    expect(push.requests.every((r) => r.httpVersion === '2.0')).toBe(true);
  });

  it("opens another session when the server's maxConcurrentStreams is reached", async () => {
    const held: Http2ServerResponse[] = [];
    const push = await startHttp2PushServer(
      (_req, res) => {
        held.push(res);
        if (held.length === 50) for (const r of held) r.writeHead(201).end();
      },
      { settings: { maxConcurrentStreams: 10 } },
    );
    const { sender: s } = sender(push);

    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        s.send(target(push, `/push/${i}`), message, { ttlSeconds: 60 }),
      ),
    );

    expect(results.every((r) => r.ok && r.attempts === 1)).toBe(true);
    expect(push.sessions.length).toBe(5);
  });

  it('keeps concurrencyPerOrigin as the bound on streams in flight', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const push = await startHttp2PushServer((_req, res) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        res.writeHead(201).end();
      }, 20);
    });
    const { sender: s } = sender(push, { concurrencyPerOrigin: 4 });

    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        s.send(target(push, `/push/${i}`), message, { ttlSeconds: 60 }),
      ),
    );

    expect(results.every((r) => r.ok)).toBe(true);
    expect(maxInFlight).toBe(4);
    expect(push.sessions.length).toBe(1);
  });

  it('waits Retry-After after a 429, then retries on the same session', async () => {
    const push = await startHttp2PushServer(scripted2([429, 201], [{ 'retry-after': '3' }]));
    const { sender: s, waits } = sender(push);

    const result = await s.send(target(push), message, { ttlSeconds: 60 });

    expect(result).toEqual({ ok: true, status: 201, attempts: 2 });
    expect(waits).toEqual([3_000]);
    expect(push.sessions.length).toBe(1);
  });

  it('retries a 503 and succeeds on the next attempt', async () => {
    const push = await startHttp2PushServer(scripted2([503, 201]));
    const { sender: s, waits } = sender(push);

    expect(await s.send(target(push), message, { ttlSeconds: 60 })).toEqual({
      ok: true,
      status: 201,
      attempts: 2,
    });
    expect(waits).toEqual([100]);
    expect(push.requests.map((r) => decryptPushMessage(r.body, ua).equals(message))).toEqual([
      true,
      true,
    ]);
  });

  it.each([
    [410, { ok: false, reason: 'gone', status: 410, attempts: 1 }],
    [404, { ok: false, reason: 'gone', status: 404, attempts: 1 }],
    [413, { ok: false, reason: 'too-large', status: 413, attempts: 1 }],
    [301, { ok: false, reason: 'failed', status: 301, attempts: 1 }],
  ])('%i gives %o after one request', async (status, expected) => {
    const push = await startHttp2PushServer(
      scripted2([status], [status === 301 ? { location: 'https://localhost:1/elsewhere' } : {}]),
    );
    const { sender: s, waits } = sender(push);

    expect(await s.send(target(push), message, { ttlSeconds: 60 })).toEqual(expected);
    expect(push.requests.length).toBe(1);
    expect(waits).toEqual([]);
  });

  it('reads and discards a large response body, keeping the status', async () => {
    const push = await startHttp2PushServer((_req, res) => {
      res.writeHead(201);
      res.end(Buffer.alloc(200 * 1024, 1));
    });
    const { sender: s } = sender(push);

    expect(await s.send(target(push), message, { ttlSeconds: 60 })).toEqual({
      ok: true,
      status: 201,
      attempts: 1,
    });
  });

  it('recovers from a GOAWAY mid-flight: processed streams answer, refused ones go on a new session', async () => {
    let goneAway = false;
    const held: { res: Http2ServerResponse; id: number }[] = [];
    const push: Http2PushServer = await startHttp2PushServer((req, res) => {
      if (goneAway) {
        res.writeHead(201).end();
        return;
      }
      held.push({ res, id: req.stream.id ?? 0 });
      if (held.length < 10) return;
      goneAway = true;
      // Keeps the first five streams (RFC 9113 §6.8: those up to lastStreamID may complete).
      const ids = held.map((h) => h.id).sort((a, b) => a - b);
      const lastKept = ids[4] ?? 0;
      req.stream.session?.goaway(constants.NGHTTP2_NO_ERROR, lastKept);
      for (const h of held) if (h.id <= lastKept) h.res.writeHead(201).end();
    });
    const { sender: s } = sender(push);

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        s.send(target(push, `/push/${i}`), message, { ttlSeconds: 60 }),
      ),
    );

    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.map((r) => r.attempts).sort()).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    expect(push.sessions.length).toBe(2);
  });

  it('retries requests whose session the server destroys before answering', async () => {
    let destroyed = false;
    const push = await startHttp2PushServer((req, res) => {
      if (destroyed) {
        res.writeHead(201).end();
        return;
      }
      if (push.requests.length < 5) return;
      destroyed = true;
      req.stream.session?.destroy();
    });
    const { sender: s, waits } = sender(push);

    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        s.send(target(push, `/push/${i}`), message, { ttlSeconds: 60 }),
      ),
    );

    // Each failed once with the session. A retry may still race the client noticing the death
    // (the server resets a stream before its socket closes), hence at most one more attempt.
    expect(results.every((r) => r.ok && r.attempts >= 2 && r.attempts <= 3)).toBe(true);
    expect(waits.length).toBeGreaterThanOrEqual(5);
    expect(push.sessions.length).toBeGreaterThanOrEqual(2);
  });

  it('times a stream out like a request, and fails after maxAttempts', async () => {
    const push = await startHttp2PushServer(() => {});
    const { sender: s, waits } = sender(push, { timeoutMs: 100, maxAttempts: 2 });

    expect(await s.send(target(push), message, { ttlSeconds: 60 })).toEqual({
      ok: false,
      reason: 'failed',
      attempts: 2,
    });
    expect(push.requests.length).toBe(2);
    expect(waits).toEqual([100]);
  });

  it('times out each of several streams at its own deadline, not at the first one’s', async () => {
    const push = await startHttp2PushServer(() => {});
    const { sender: s } = sender(push, { timeoutMs: 300, maxAttempts: 1 });

    const settled: string[] = [];
    const first = s
      .send(target(push, '/push/first'), message, { ttlSeconds: 60 })
      .then((result) => settled.push('first') && result);
    await until(() => push.requests.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const second = s
      .send(target(push, '/push/second'), message, { ttlSeconds: 60 })
      .then((result) => settled.push('second') && result);

    expect(await first).toEqual({ ok: false, reason: 'failed', attempts: 1 });
    // The first deadline passed; the second, set later, has not.
    expect(settled).toEqual(['first']);
    expect(await second).toEqual({ ok: false, reason: 'failed', attempts: 1 });
    expect(settled).toEqual(['first', 'second']);
  });

  it('close() ends a send waiting on an HTTP/2 stream with failed', async () => {
    const push = await startHttp2PushServer(() => {});
    const { sender: s } = sender(push, { timeoutMs: 5_000 });

    const pending = s.send(target(push), message, { ttlSeconds: 60 });
    await until(() => push.requests.length === 1);
    await s.close();

    expect(await pending).toEqual({ ok: false, reason: 'failed', attempts: 1 });
  });

  it('closes a session idle for idleTimeoutMs, and opens a new one when needed', async () => {
    const push = await startHttp2PushServer(scripted2([201]));
    const { sender: s } = sender(push, { idleTimeoutMs: 50 });

    await s.send(target(push), message, { ttlSeconds: 60 });
    const [first] = push.sessions;
    await until(() => first?.closed === true || first?.destroyed === true);
    await s.send(target(push), message, { ttlSeconds: 60 });

    expect(push.sessions.length).toBe(2);
  });

  it('refuses a certificate it was not told to trust', async () => {
    const push = await startHttp2PushServer(scripted2([201]));
    const { sender: s } = sender(undefined, { maxAttempts: 1 });

    expect(await s.send(target(push), message, { ttlSeconds: 60 })).toEqual({
      ok: false,
      reason: 'failed',
      attempts: 1,
    });
    expect(push.requests.length).toBe(0);
  });
});

describe('createPushSender: HTTP/1.1 where HTTP/2 is not on offer', () => {
  it('keeps an http origin on keep-alive HTTP/1.1', async () => {
    const push = await startPushServer(scripted([201]));
    const { sender: s } = sender(undefined);

    for (let i = 0; i < 3; i += 1) {
      expect(await s.send(target(push), message, { ttlSeconds: 60 })).toMatchObject({ ok: true });
    }
    expect(push.requests.map((r) => r.httpVersion)).toEqual(['1.1', '1.1', '1.1']);
    expect(push.connections).toBe(1);
  });

  it('falls back to HTTP/1.1 for an https origin that does not choose h2, without an extra attempt', async () => {
    const { key, cert } = createSelfSignedCertificate({ hosts: ['localhost'] });
    const versions: string[] = [];
    const server = createHttpsServer({ key, cert }, (req, res) => {
      versions.push(req.httpVersion);
      req.resume();
      req.on('end', () => res.writeHead(201).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const origin = `https://localhost:${(server.address() as AddressInfo).port}`;
    const { sender: s, waits } = sender({ ca: cert });

    const results = await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        s.send(target({ origin }, `/push/${i}`), message, { ttlSeconds: 60 }),
      ),
    );

    expect(results).toEqual(
      Array.from({ length: 3 }, () => ({ ok: true, status: 201, attempts: 1 })),
    );
    expect(versions).toEqual(['1.1', '1.1', '1.1']);
    expect(waits).toEqual([]);
  });

  it("uses HTTP/1.1 to an h2-capable origin with http2: 'never'", async () => {
    const push = await startHttp2PushServer(scripted2([201]), { allowHTTP1: true });
    const { sender: s } = sender(push, { http2: 'never' });

    expect(await s.send(target(push), message, { ttlSeconds: 60 })).toMatchObject({ ok: true });
    expect(push.requests[0]?.httpVersion).toBe('1.1');
  });
});
