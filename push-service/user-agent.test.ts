import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PushTransport } from '../protocol/index.js';
import { HTTP2, type Mode, PLAIN, startIn } from './service/https-test-support.js';
import { startPushService } from './service/service.js';
import { nextEvents, pushWithWebPush, vapidKeys, within } from './service/test-helpers.js';
import type { PushService } from './service/types.js';
import { nextMessages } from './test-helpers.js';
import { createUserAgent, type UserAgent } from './user-agent/user-agent.js';

const vapid = vapidKeys();
let service: PushService;
let ua: UserAgent;

// The user agent works the same whichever way application servers reach the service.
describe.each<Mode>([PLAIN, HTTP2])('with messages sent over $name', (mode) => {
  beforeEach(async () => {
    service = await startIn(mode);
    ua = createUserAgent({ serviceUrl: service.wsUrl });
  });

  afterEach(async () => {
    await ua.close();
    await service.close();
  });

  describe('subscribe', () => {
    it('returns a subscription with a P-256 key, a 16-byte auth secret and no expiry', async () => {
      const subscription = await ua.subscribe(vapid.publicKey);
      expect(subscription.expirationTime).toBeNull();
      expect(subscription.keys.p256dh).toMatch(/^[A-Za-z0-9_-]{87}$/);
      expect(Buffer.from(subscription.keys.p256dh, 'base64url')[0]).toBe(0x04);
      expect(subscription.keys.auth).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(ua.getSubscription()).toEqual(subscription);
    });

    it('gives every caller with the same key the same subscription, registering once', async () => {
      const registers = nextEvents(service, 'register', 1);
      const [a, b] = await Promise.all([
        ua.subscribe(vapid.publicKey),
        ua.subscribe(`${vapid.publicKey}=`),
      ]);
      const c = await ua.subscribe(vapid.publicKey);
      expect(b).toEqual(a);
      expect(c).toEqual(a);
      await registers;
      expect(service.stats().pending).toBe(0);
      const more: unknown[] = [];
      service.on('register', (event) => more.push(event));
      await ua.subscribe(vapid.publicKey);
      expect(more).toEqual([]);
    });

    it('refuses another key while subscribed, like pushManager', async () => {
      await ua.subscribe(vapid.publicKey);
      await expect(ua.subscribe(vapidKeys().publicKey)).rejects.toMatchObject({
        name: 'UserAgentError',
        code: 'INVALID_STATE',
      });
    });

    it('is a PushTransport for the link', async () => {
      const transport: PushTransport = ua;
      const subscription = await transport.subscribe(vapid.publicKey);
      const seen: unknown[] = [];
      const stop = transport.onMessage((data) => seen.push(data));
      const first = within(
        new Promise<void>((resolve) => transport.onMessage(() => resolve())),
        2000,
        'first message',
      );
      const acks = nextEvents(service, 'ack', 2);
      await pushWithWebPush(subscription, 'one', vapid);
      await first;
      stop();
      await pushWithWebPush(subscription, 'two', vapid);
      await acks;
      expect(seen.map((data) => Buffer.from(data as Uint8Array).toString())).toEqual(['one']);
    });
  });

  describe('unsubscribe and resubscribe', () => {
    it('unsubscribe makes the endpoint answer 410', async () => {
      const subscription = await ua.subscribe(vapid.publicKey);
      await ua.unsubscribe();
      expect(ua.getSubscription()).toBeNull();
      expect((await pushWithWebPush(subscription, 'gone', vapid)).status).toBe(410);
    });

    it('resubscribe replaces the subscription and tells subscription-change listeners once', async () => {
      const old = await ua.subscribe(vapid.publicKey);
      let changes = 0;
      ua.onSubscriptionChange(() => changes++);
      const fresh = await ua.resubscribe();
      expect(changes).toBe(1);
      expect(fresh.endpoint).not.toBe(old.endpoint);
      expect(fresh.keys.p256dh).not.toBe(old.keys.p256dh);
      expect((await pushWithWebPush(old, 'old', vapid)).status).toBe(410);
      const got = nextMessages(ua, 1);
      expect((await pushWithWebPush(fresh, 'new', vapid)).status).toBe(201);
      expect(await got).toEqual(['new']);
    });
  });

  describe('connection', () => {
    it('reconnects by itself with the same uaid after the service drops the socket, and gets what was stored', async () => {
      const subscription = await ua.subscribe(vapid.publicKey);
      const uaid = ua.uaid;
      service.setFaults({ disconnectEvery: 1 });
      const got = nextMessages(ua, 3);
      const hellos = nextEvents(service, 'hello', 3);
      for (const text of ['a', 'b', 'c']) await pushWithWebPush(subscription, text, vapid);
      expect((await got).sort()).toEqual(['a', 'b', 'c']);
      expect(await hellos).toEqual([
        { uaid, known: true },
        { uaid, known: true },
        { uaid, known: true },
      ]);
      await ua.connect();
      expect(ua.connections).toBe(4);
      expect(service.stats()).toMatchObject({ disconnects: 3, pending: 0 });
    });

    it('loses its subscription and tells listeners when a restarted service no longer knows its uaid', async () => {
      await ua.subscribe(vapid.publicKey);
      const port = service.port;
      const changed = within(
        new Promise<void>((resolve) => ua.onSubscriptionChange(resolve)),
        3000,
        'subscription change',
      );
      await service.close();
      service = await startIn(mode, { port });
      await changed;
      expect(ua.getSubscription()).toBeNull();
      expect((await ua.subscribe(vapid.publicKey)).endpoint).toMatch(`${service.url}/push/`);
    });

    it('fails a request with TIMEOUT when the service does not answer', async () => {
      const port = service.port;
      await service.close();
      const lonely = createUserAgent({
        serviceUrl: `ws://127.0.0.1:${port}/`,
        requestTimeoutMs: 100,
      });
      try {
        await expect(lonely.subscribe(vapid.publicKey)).rejects.toMatchObject({ code: 'TIMEOUT' });
      } finally {
        await lonely.close();
        service = await startIn(mode);
      }
    });

    it('close fails pending requests with CLOSED and stops reconnecting', async () => {
      // Only the user agent under test may knock on the restarted service.
      await ua.close();
      const port = service.port;
      await service.close();
      const closing = createUserAgent({ serviceUrl: `ws://127.0.0.1:${port}/` });
      const pending = closing.subscribe(vapid.publicKey);
      await closing.close();
      await expect(pending).rejects.toMatchObject({ code: 'CLOSED' });
      service = await startIn(mode, { port });
      const hellos: unknown[] = [];
      service.on('hello', (event) => hellos.push(event));
      // A user agent that still reconnected would say hello within its first backoff steps.
      const witness = createUserAgent({ serviceUrl: service.wsUrl });
      await witness.connect();
      await witness.close();
      expect(hellos).toHaveLength(1);
    });
  });
});

describe('serviceUrl', () => {
  it('takes the http URL of a plain service too (a secure one is reached on its wsUrl only)', async () => {
    const plain = await startPushService();
    const other = createUserAgent({ serviceUrl: plain.url });
    try {
      const subscription = await other.subscribe(vapid.publicKey);
      const got = nextMessages(other, 1);
      await pushWithWebPush(subscription, 'via http url', vapid);
      expect(await got).toEqual(['via http url']);
    } finally {
      await other.close();
      await plain.close();
    }
  });
});
