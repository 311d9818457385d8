import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { generateVapidKeys } from '../vapid.js';
import { createPushSender, type PushSenderOptions } from './sender.js';
import { closePushServers, scripted, startPushServer } from './server-test-support.js';
import { createUserAgentKeys, decryptPushMessage } from './test-support.js';

const vapid = { subject: 'mailto:ops@example.com', ...generateVapidKeys() };
const ua = createUserAgentKeys();
const message = Buffer.from('{"v":1,"id":"r:1","tab":"t","reg":"r","seq":1,"type":"next"}');
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  await closePushServers();
});

function sender(options: Partial<PushSenderOptions> = {}) {
  const instance = createPushSender({ vapid, timeoutMs: 5_000, encryptionWorkers: 0, ...options });
  closers.push(() => instance.close());
  return instance;
}

const isSettled = async (promise: Promise<unknown>): Promise<boolean> => {
  let settled = false;
  void promise.then(() => {
    settled = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
};

describe('createPushSender: backpressure', () => {
  it('accepts every message past maxPending, and ready() waits until fewer are pending', async () => {
    const held: ServerResponse[] = [];
    const push = await startPushServer((_req, res) => held.push(res));
    const s = sender({ maxPending: 3 });
    const target = { endpoint: `${push.origin}/push/a`, keys: ua.keys };

    expect(s.pending).toBe(0);
    expect(await isSettled(s.ready())).toBe(true);
    const sends = Array.from({ length: 5 }, () => s.send(target, message, { ttlSeconds: 60 }));
    expect(s.pending).toBe(5);
    const ready = s.ready();
    while (held.length < 5) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await isSettled(ready)).toBe(false);

    // 5 → 3 pending: still at the bound.
    for (const res of held.splice(0, 2)) res.writeHead(201).end();
    await Promise.all(sends.slice(0, 2));
    expect(s.pending).toBe(3);
    expect(await isSettled(ready)).toBe(false);

    held.shift()?.writeHead(201).end();
    await sends[2];
    expect(s.pending).toBe(2);
    expect(await isSettled(ready)).toBe(true);

    for (const res of held.splice(0)) res.writeHead(201).end();
    expect((await Promise.all(sends)).map((r) => r.ok)).toEqual([true, true, true, true, true]);
    expect(s.pending).toBe(0);
    expect(push.requests.length).toBe(5);
  });

  it('counts a message pending until its retries are over', async () => {
    const push = await startPushServer(scripted([503, 201]));
    let wake: () => void = () => {};
    const s = sender({
      sleep: () =>
        new Promise<void>((resolve) => {
          wake = resolve;
        }),
    });
    const sent = s.send({ endpoint: `${push.origin}/push/a`, keys: ua.keys }, message, {
      ttlSeconds: 60,
    });
    while (push.requests.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(s.pending).toBe(1);
    wake();
    expect(await sent).toEqual({ ok: true, status: 201, attempts: 2 });
    expect(s.pending).toBe(0);
  });

  it('does not count sends refused before acceptance', async () => {
    const s = sender();
    await expect(
      s.send({ endpoint: 'ftp://x/y', keys: ua.keys }, message, { ttlSeconds: 60 }),
    ).rejects.toThrow();
    expect(s.pending).toBe(0);
  });

  it('ready() resolves after close() even with messages pending', async () => {
    const push = await startPushServer(() => {});
    const s = sender({ maxPending: 1 });
    const sent = s.send({ endpoint: `${push.origin}/push/a`, keys: ua.keys }, message, {
      ttlSeconds: 60,
    });
    const ready = s.ready();
    expect(await isSettled(ready)).toBe(false);
    await s.close();
    expect(await isSettled(ready)).toBe(true);
    expect(await sent).toMatchObject({ ok: false, reason: 'failed' });
    expect(s.pending).toBe(0);
  });
});

describe('createPushSender: many messages backing off at once', () => {
  it('runs 40 concurrent backoff waits on its stop signal without a MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      // Each message's first attempt gets 429 (Retry-After 1 s, capped to 50 ms), so 40 sends
      // wait together through the default sleep before their second attempt succeeds.
      const attempts = new Map<string, number>();
      const push = await startPushServer((req, res) => {
        const seen = (attempts.get(req.url ?? '') ?? 0) + 1;
        attempts.set(req.url ?? '', seen);
        if (seen === 1) res.writeHead(429, { 'Retry-After': '1' }).end();
        else res.writeHead(201).end();
      });
      const s = sender({ maxBackoffMs: 50 });
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          s.send({ endpoint: `${push.origin}/push/${i}`, keys: ua.keys }, message, {
            ttlSeconds: 60,
          }),
        ),
      );
      expect(results.every((r) => r.ok && r.attempts === 2)).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => w.name)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('createPushSender: encryption workers', () => {
  it('delivers a 200-message fan-out encrypted on a worker, each body decrypting to its message', async () => {
    const push = await startPushServer(scripted([201]));
    const s = sender({ encryptionWorkers: 1, inlineEncryptionLimit: 4 });
    const plaintexts = Array.from({ length: 200 }, (_, i) => Buffer.from(`message ${i}`));

    const results = await Promise.all(
      plaintexts.map((plaintext, i) =>
        s.send({ endpoint: `${push.origin}/push/${i}`, keys: ua.keys }, plaintext, {
          ttlSeconds: 60,
        }),
      ),
    );

    expect(results.every((r) => r.ok)).toBe(true);
    const byPath = new Map(push.requests.map((r) => [r.url, r.body]));
    expect(
      plaintexts.every((plaintext, i) => {
        const body = byPath.get(`/push/${i}`);
        return body !== undefined && decryptPushMessage(body, ua).equals(plaintext);
      }),
    ).toBe(true);
  });

  it('close() during a fan-out ends every send with failed', async () => {
    const push = await startPushServer(() => {});
    const s = sender({ encryptionWorkers: 1, inlineEncryptionLimit: 0 });
    const sends = Array.from({ length: 100 }, (_, i) =>
      s.send({ endpoint: `${push.origin}/push/${i}`, keys: ua.keys }, message, { ttlSeconds: 60 }),
    );
    await s.close();
    const results = await Promise.all(sends);
    expect(results.every((r) => !r.ok && r.reason === 'failed')).toBe(true);
    expect(s.pending).toBe(0);
  });
});
