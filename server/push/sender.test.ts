import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PUSH_PLAINTEXT_BYTES } from '../../protocol/index.js';
import { generateVapidKeys, VapidKeyError } from '../vapid.js';
import { InvalidPushArgumentError, InvalidSubscriptionKeysError } from './errors.js';
import { listeningSend } from './send-listener.js';
import { createPushSender, type PushSender, type PushSenderOptions } from './sender.js';
import { closePushServers, scripted, startPushServer } from './server-test-support.js';
import { createUserAgentKeys, decryptPushMessage } from './test-support.js';

const senders: PushSender[] = [];

afterEach(async () => {
  await Promise.all(senders.splice(0).map((sender) => sender.close()));
  await closePushServers();
});

const vapidKeys = generateVapidKeys();
const vapid = { subject: 'mailto:ops@example.com', ...vapidKeys };

function sender(options: Partial<PushSenderOptions> = {}) {
  const waits: number[] = [];
  const instance = createPushSender({
    vapid,
    timeoutMs: 2_000,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
    random: () => 0.5,
    ...options,
  });
  senders.push(instance);
  return { sender: instance, waits };
}

const ua = createUserAgentKeys();
const target = (origin: string, path = '/push/sub-1') => ({
  endpoint: `${origin}${path}`,
  keys: ua.keys,
});
const message = Buffer.from('{"v":1,"id":"r:1","tab":"t","reg":"r","seq":1,"type":"next"}');

describe('createPushSender: a delivered message', () => {
  it('POSTs the encrypted body with TTL, Content-Encoding, Authorization, Urgency and Topic', async () => {
    const push = await startPushServer(scripted([201]));
    const { sender: s } = sender();

    const result = await s.send(target(push.origin), message, {
      ttlSeconds: 60,
      urgency: 'high',
      topic: 'stock-42',
    });

    expect(result).toEqual({ ok: true, status: 201, attempts: 1 });
    expect(push.requests.length).toBe(1);
    const [request] = push.requests;
    expect(request?.url).toBe('/push/sub-1');
    expect(request?.headers).toMatchObject({
      ttl: '60',
      'content-encoding': 'aes128gcm',
      'content-type': 'application/octet-stream',
      'content-length': String(86 + message.length + 17),
      urgency: 'high',
      topic: 'stock-42',
    });
    const authorization = request?.headers.authorization ?? '';
    const match = /^vapid t=([^.]+)\.([^.]+)\.([^.,]+), k=(.+)$/.exec(authorization);
    expect(match?.[4]).toBe(vapidKeys.publicKey);
    expect(JSON.parse(Buffer.from(match?.[2] ?? '', 'base64url').toString())).toMatchObject({
      aud: push.origin,
      sub: 'mailto:ops@example.com',
    });
    expect(decryptPushMessage(request?.body ?? Buffer.alloc(0), ua).equals(message)).toBe(true);
  });

  it('omits Urgency and Topic when not given', async () => {
    const push = await startPushServer(scripted([201]));
    const { sender: s } = sender();

    await s.send(target(push.origin), message, { ttlSeconds: 0 });

    expect(push.requests[0]?.headers.ttl).toBe('0');
    expect(push.requests[0]?.headers.urgency).toBeUndefined();
    expect(push.requests[0]?.headers.topic).toBeUndefined();
  });

  it('reuses one VAPID token and one keep-alive connection for sends to one origin', async () => {
    const push = await startPushServer(scripted([201]));
    const { sender: s } = sender();

    for (let i = 0; i < 3; i += 1) await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(push.requests.length).toBe(3);
    expect(new Set(push.requests.map((r) => r.headers.authorization)).size).toBe(1);
    expect(push.connections).toBe(1);
    expect(push.requests.every((r) => decryptPushMessage(r.body, ua).equals(message))).toBe(true);
  });
});

describe('createPushSender: retries', () => {
  it('waits Retry-After seconds after a 429, then retries', async () => {
    const push = await startPushServer(scripted([429, 201], [{ 'Retry-After': '3' }]));
    const { sender: s, waits } = sender();

    const result = await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(result).toEqual({ ok: true, status: 201, attempts: 2 });
    expect(waits).toEqual([3_000]);
    expect(push.requests.length).toBe(2);
  });

  it('waits until a Retry-After HTTP date', async () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    const push = await startPushServer(
      scripted([429, 201], [{ 'Retry-After': 'Wed, 21 Oct 2015 07:28:05 GMT' }]),
    );
    const { sender: s, waits } = sender({ now: () => now });

    const result = await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(result).toEqual({ ok: true, status: 201, attempts: 2 });
    expect(waits).toEqual([5_000]);
  });

  it('sends what is left of the TTL on a retry', async () => {
    let now = 1_700_000_000_000;
    const push = await startPushServer(scripted([429, 201], [{ 'Retry-After': '7' }]));
    const { sender: s } = sender({
      now: () => now,
      sleep: (ms) => {
        now += ms;
        return Promise.resolve();
      },
    });

    await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(push.requests.map((r) => r.headers.ttl)).toEqual(['60', '53']);
  });

  it('caps Retry-After at maxBackoffMs', async () => {
    const push = await startPushServer(scripted([429, 201], [{ 'Retry-After': '120' }]));
    const { sender: s, waits } = sender({ maxBackoffMs: 30_000 });

    await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(waits).toEqual([30_000]);
  });

  it('backs off exponentially after a 429 without Retry-After', async () => {
    const push = await startPushServer(scripted([429, 429, 201]));
    const { sender: s, waits } = sender();

    const result = await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(result).toEqual({ ok: true, status: 201, attempts: 3 });
    expect(waits).toEqual([100, 200]);
  });

  it('retries a 503 and succeeds on the next attempt', async () => {
    const push = await startPushServer(scripted([503, 201]));
    const { sender: s, waits } = sender();

    const result = await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(result).toEqual({ ok: true, status: 201, attempts: 2 });
    expect(waits).toEqual([100]);
    expect(push.requests.map((r) => decryptPushMessage(r.body, ua).equals(message))).toEqual([
      true,
      true,
    ]);
  });

  it('doubles the backoff ceiling per attempt (full jitter, here a draw of 0.5)', async () => {
    const push = await startPushServer(scripted([500, 502, 503, 201]));
    const { sender: s, waits } = sender({ baseBackoffMs: 200 });

    const result = await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(result).toEqual({ ok: true, status: 201, attempts: 4 });
    expect(waits).toEqual([100, 200, 400]);
  });

  it('gives up with failed after maxAttempts 5xx answers', async () => {
    const push = await startPushServer(scripted([500]));
    const { sender: s, waits } = sender({ maxAttempts: 3 });

    const result = await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(result).toEqual({ ok: false, reason: 'failed', status: 500, attempts: 3 });
    expect(push.requests.length).toBe(3);
    expect(waits.length).toBe(2);
  });

  it('retries after the connection is reset', async () => {
    const push = await startPushServer((req, res, index) => {
      if (index === 0) req.socket.destroy();
      else res.writeHead(201).end();
    });
    const { sender: s, waits } = sender();

    const result = await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(result).toEqual({ ok: true, status: 201, attempts: 2 });
    expect(waits).toEqual([100]);
    expect(push.requests.length).toBe(2);
  });

  it('retries a request that times out, then fails without a status', async () => {
    const push = await startPushServer(() => {
      // Never answers.
    });
    const { sender: s, waits } = sender({ timeoutMs: 100, maxAttempts: 2 });

    const result = await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(result).toEqual({ ok: false, reason: 'failed', attempts: 2 });
    expect(push.requests.length).toBe(2);
    expect(waits).toEqual([100]);
  });
});

describe('createPushSender: answers that end the attempt at once', () => {
  it.each([
    [410, { ok: false, reason: 'gone', status: 410, attempts: 1 }],
    [404, { ok: false, reason: 'gone', status: 404, attempts: 1 }],
    [413, { ok: false, reason: 'too-large', status: 413, attempts: 1 }],
    [400, { ok: false, reason: 'failed', status: 400, attempts: 1 }],
    [401, { ok: false, reason: 'failed', status: 401, attempts: 1 }],
    [403, { ok: false, reason: 'failed', status: 403, attempts: 1 }],
  ])('%i gives %o after one request and no wait', async (status, expected) => {
    const push = await startPushServer(scripted([status]));
    const { sender: s, waits } = sender();

    expect(await s.send(target(push.origin), message, { ttlSeconds: 60 })).toEqual(expected);
    expect(push.requests.length).toBe(1);
    expect(waits).toEqual([]);
  });

  it('does not follow a 301 redirect', async () => {
    const elsewhere = await startPushServer(scripted([201]));
    const push = await startPushServer(
      scripted([301], [{ Location: `${elsewhere.origin}/steal` }]),
    );
    const { sender: s } = sender();

    const result = await s.send(target(push.origin), message, { ttlSeconds: 60 });

    expect(result).toEqual({ ok: false, reason: 'failed', status: 301, attempts: 1 });
    expect(push.requests.length).toBe(1);
    expect(elsewhere.requests.length).toBe(0);
  });

  it('answers too-large without a request when the plaintext exceeds 3993 bytes', async () => {
    const push = await startPushServer(scripted([201]));
    const { sender: s } = sender();

    const result = await s.send(target(push.origin), Buffer.alloc(MAX_PUSH_PLAINTEXT_BYTES + 1), {
      ttlSeconds: 60,
    });

    expect(result).toEqual({ ok: false, reason: 'too-large', attempts: 0 });
    expect(push.requests.length).toBe(0);
  });
});

describe('createPushSender: concurrency', () => {
  it('keeps at most concurrencyPerOrigin requests in flight to one origin', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const held: ServerResponse[] = [];
    let quiet: NodeJS.Timeout | undefined;
    // Answers everything it holds once no new request came for 30 ms, so an unbounded sender
    // would show all six in flight together.
    const push = await startPushServer((_req, res) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('finish', () => {
        inFlight -= 1;
      });
      held.push(res);
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        for (const r of held.splice(0)) r.writeHead(201).end();
      }, 30);
    });
    const { sender: s } = sender({ concurrencyPerOrigin: 2 });

    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        s.send(target(push.origin, `/push/sub-${i}`), message, { ttlSeconds: 60 }),
      ),
    );

    expect(results.every((r) => r.ok)).toBe(true);
    expect(push.requests.length).toBe(6);
    expect(maxInFlight).toBe(2);
  });

  it('bounds each origin on its own', async () => {
    // `first` answers only once `second` has received a request: with one shared bound the
    // second send would queue behind the first and both would time out.
    let secondArrived: () => void = () => {};
    const secondSeen = new Promise<void>((resolve) => {
      secondArrived = resolve;
    });
    const first = await startPushServer((_req, res) => {
      void secondSeen.then(() => res.writeHead(201).end());
    });
    const second = await startPushServer((_req, res) => {
      secondArrived();
      res.writeHead(201).end();
    });
    const { sender: s } = sender({ concurrencyPerOrigin: 1, timeoutMs: 1_000, maxAttempts: 1 });

    const results = await Promise.all([
      s.send(target(first.origin), message, { ttlSeconds: 60 }),
      s.send(target(second.origin), message, { ttlSeconds: 60 }),
    ]);

    expect(results).toEqual([
      { ok: true, status: 201, attempts: 1 },
      { ok: true, status: 201, attempts: 1 },
    ]);
  });
});

describe('createPushSender: arguments and lifecycle', () => {
  it('rejects malformed targets and options before any request', async () => {
    const push = await startPushServer(scripted([201]));
    const { sender: s } = sender();

    await expect(
      s.send(
        { endpoint: `${push.origin}/x`, keys: { p256dh: 'AAAA', auth: ua.keys.auth } },
        message,
        {
          ttlSeconds: 60,
        },
      ),
    ).rejects.toBeInstanceOf(InvalidSubscriptionKeysError);
    await expect(
      s.send({ endpoint: 'ftp://127.0.0.1/x', keys: ua.keys }, message, { ttlSeconds: 60 }),
    ).rejects.toBeInstanceOf(InvalidPushArgumentError);
    await expect(s.send(target(push.origin), message, { ttlSeconds: -1 })).rejects.toBeInstanceOf(
      InvalidPushArgumentError,
    );
    await expect(
      s.send(target(push.origin), message, { ttlSeconds: 60, topic: 'has spaces' }),
    ).rejects.toBeInstanceOf(InvalidPushArgumentError);
    await expect(
      s.send(target(push.origin), message, { ttlSeconds: 60, topic: 'a'.repeat(33) }),
    ).rejects.toBeInstanceOf(InvalidPushArgumentError);
    await expect(
      s.send(target(push.origin), message, {
        ttlSeconds: 60,
        urgency: 'urgent' as 'high',
      }),
    ).rejects.toBeInstanceOf(InvalidPushArgumentError);
    expect(push.requests.length).toBe(0);
  });

  it('refuses invalid VAPID keys when created', () => {
    expect(() =>
      createPushSender({ vapid: { ...vapid, privateKey: generateVapidKeys().privateKey } }),
    ).toThrow(VapidKeyError);
  });

  it('close() ends a send that waits on the push service with failed', async () => {
    let arrived: () => void = () => {};
    const requestSeen = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const push = await startPushServer(() => arrived());
    const { sender: s } = sender({ timeoutMs: 5_000 });

    const pending = s.send(target(push.origin), message, { ttlSeconds: 60 });
    await requestSeen;
    await s.close();

    expect(await pending).toEqual({ ok: false, reason: 'failed', attempts: 1 });
    expect(await s.send(target(push.origin), message, { ttlSeconds: 60 })).toEqual({
      ok: false,
      reason: 'failed',
      attempts: 0,
    });
    expect(push.requests.length).toBe(1);
  });

  it('close() ends a backoff wait at once', async () => {
    const push = await startPushServer(scripted([503]));
    let sleeping: () => void = () => {};
    const sleepStarted = new Promise<void>((resolve) => {
      sleeping = resolve;
    });
    // A wait that only ends through the abort signal: the test hangs unless close() aborts it.
    const { sender: s } = sender({
      sleep: (_ms, signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => resolve(), { once: true });
          sleeping();
        }),
    });

    const pending = s.send(target(push.origin), message, { ttlSeconds: 60 });
    await sleepStarted;
    await s.close();

    expect(await pending).toEqual({ ok: false, reason: 'failed', status: 503, attempts: 1 });
    expect(push.requests.length).toBe(1);
  });
});

describe('createPushSender: the listener form a fan-out uses', () => {
  /** Sends with the listener form; resolves with what the listener heard, and its tag. */
  function sendWithListener(
    s: PushSender,
    to: { endpoint: string; keys: typeof ua.keys },
    options: { ttlSeconds: number; topic?: string },
  ): Promise<{ tag: object; heard: 'sent' | 'failed'; value: unknown }> {
    const sendWith = listeningSend(s);
    if (sendWith === undefined) throw new Error('no listener form');
    const tag = { browser: 7 };
    return new Promise((resolve) =>
      sendWith(
        to,
        message,
        options,
        {
          sent: (got, result) => resolve({ tag: got, heard: 'sent', value: result }),
          failed: (got, error) => resolve({ tag: got, heard: 'failed', value: error }),
        },
        tag,
      ),
    );
  }

  it('hands every outcome to the listener with the caller’s tag: delivered, gone, retried, refused', async () => {
    const push = await startPushServer(scripted([201, 410, 503, 201]));
    const { sender: s, waits } = sender();

    const delivered = await sendWithListener(s, target(push.origin), { ttlSeconds: 60 });
    expect(delivered).toEqual({
      tag: { browser: 7 },
      heard: 'sent',
      value: { ok: true, status: 201, attempts: 1 },
    });
    expect((await sendWithListener(s, target(push.origin), { ttlSeconds: 60 })).value).toEqual({
      ok: false,
      reason: 'gone',
      status: 410,
      attempts: 1,
    });
    expect((await sendWithListener(s, target(push.origin), { ttlSeconds: 60 })).value).toEqual({
      ok: true,
      status: 201,
      attempts: 2,
    });
    expect(waits).toHaveLength(1);
    const refused = await sendWithListener(s, target(push.origin), {
      ttlSeconds: 60,
      topic: 'has spaces',
    });
    expect(refused.heard).toBe('failed');
    expect(refused.value).toBeInstanceOf(InvalidPushArgumentError);
    expect(push.requests).toHaveLength(4);
    expect(decryptPushMessage(push.requests[0]?.body ?? Buffer.alloc(0), ua).equals(message)).toBe(
      true,
    );
  });

  it('answers failed with no attempt once closed, as send resolves', async () => {
    const push = await startPushServer(scripted([201]));
    const { sender: s } = sender();
    await s.close();

    expect(await sendWithListener(s, target(push.origin), { ttlSeconds: 60 })).toEqual({
      tag: { browser: 7 },
      heard: 'sent',
      value: { ok: false, reason: 'failed', attempts: 0 },
    });
    expect(push.requests).toHaveLength(0);
  });
});
