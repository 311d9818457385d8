import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PushSubscriptionData } from '../protocol/index.js';
import { HTTP2, type Mode, PLAIN, send, startIn } from './service/https-test-support.js';
import { ackOf, nextEvents, pushWithWebPush, sleep, vapidKeys } from './service/test-helpers.js';
import type { PushService } from './service/types.js';
import { nextMessages } from './test-helpers.js';
import { createUserAgent, type UserAgent } from './user-agent/user-agent.js';

const vapid = vapidKeys();
let service: PushService;
let ua: UserAgent;
let subscription: PushSubscriptionData;

// Delivery is the same whichever way the messages come.
describe.each<Mode>([PLAIN, HTTP2])('with messages sent over $name', (mode) => {
  beforeEach(async () => {
    service = await startIn(mode);
    ua = createUserAgent({ serviceUrl: service.wsUrl });
    subscription = await ua.subscribe(vapid.publicKey);
  });

  afterEach(async () => {
    await ua.close();
    await service.close();
  });

  const push = async (
    payload: string | Buffer,
    options: Parameters<typeof pushWithWebPush>[3] = {},
  ) => {
    const response = await pushWithWebPush(subscription, payload, vapid, options);
    expect(response.status).toBe(201);
    return (response.headers.get('location') ?? '').split('/').pop() ?? '';
  };

  /**
   * Reconnects, then pushes a marker: stored messages go out on hello before anything new, so
   * everything that arrives before the marker was stored while offline.
   */
  const reconnectAndCollectUntilMarker = async () => {
    const received: string[] = [];
    const stop = ua.onMessage((data) => received.push(Buffer.from(data).toString('utf8')));
    await ua.connect();
    const marker = await push('marker');
    expect((await ackOf(service, marker)).code).toBe(100);
    stop();
    return received;
  };

  describe('delivery to the user agent', () => {
    it('delivers exactly the bytes web-push encrypted', async () => {
      const payload = Buffer.from(Array.from({ length: 3993 }, (_, i) => (i * 7) % 256));
      const got = new Promise<Uint8Array>((resolve) => ua.onMessage(resolve));
      await push(payload);
      expect(Buffer.from(await got).equals(payload)).toBe(true);
    });

    it('gives every message to every listener, like a worker posting to all tabs', async () => {
      const first = nextMessages(ua, 2);
      const second = nextMessages(ua, 2);
      await push('a');
      await push('b');
      expect(await first).toEqual(['a', 'b']);
      expect(await second).toEqual(['a', 'b']);
      expect(ua.received).toBe(2);
    });

    it('acks each message once with code 100 and then forgets it', async () => {
      const acks = nextEvents(service, 'ack', 2);
      const id1 = await push('one');
      const id2 = await push('two');
      expect((await acks).map(({ version, code }) => [version, code])).toEqual([
        [id1, 100],
        [id2, 100],
      ]);
      expect(service.stats()).toMatchObject({ pending: 0, delivered: 2, acked: { 100: 2 } });
    });

    it('stores messages for an offline user agent and delivers them after it reconnects, each acked once', async () => {
      await ua.disconnect();
      const ids = [await push('one'), await push('two'), await push('three')];
      expect(service.stats().pending).toBe(3);

      const received = await reconnectAndCollectUntilMarker();
      expect(received).toEqual(['one', 'two', 'three', 'marker']);
      for (const id of ids) {
        expect(service.acks.filter((ack) => ack.version === id).map((ack) => ack.code)).toEqual([
          100,
        ]);
      }
      expect(service.stats()).toMatchObject({ pending: 0, delivered: 4, acked: { 100: 4 } });
    });

    it('keeps the same uaid across reconnects', async () => {
      const uaid = ua.uaid;
      await ua.disconnect();
      await ua.connect();
      expect(ua.uaid).toBe(uaid);
      expect(ua.connections).toBe(2);
    });

    it('replaces an undelivered message with a newer one of the same Topic', async () => {
      await ua.disconnect();
      await push('first', { topic: 'stock-42' });
      await push('other topic', { topic: 'stock-43' });
      await push('second', { topic: 'stock-42' });
      expect(service.stats()).toMatchObject({ pending: 2, replaced: 1 });

      expect(await reconnectAndCollectUntilMarker()).toEqual(['other topic', 'second', 'marker']);
    });

    it('drops a message whose TTL passed while the user agent was offline', async () => {
      await ua.disconnect();
      await push('short-lived', { ttl: 1 });
      await push('long-lived', { ttl: 60 });
      await sleep(1100);

      expect(await reconnectAndCollectUntilMarker()).toEqual(['long-lived', 'marker']);
      expect(service.stats().expired).toBe(1);
    });

    it('drops a TTL 0 message when the user agent is offline, but still answers 201', async () => {
      await ua.disconnect();
      await push('now or never', { ttl: 0 });
      expect(service.stats()).toMatchObject({ accepted: 1, pending: 0, expired: 1 });

      expect(await reconnectAndCollectUntilMarker()).toEqual(['marker']);
    });

    it('delivers a TTL 0 message to a connected user agent', async () => {
      const got = nextMessages(ua, 1);
      await push('now', { ttl: 0 });
      expect(await got).toEqual(['now']);
    });

    it('never delivers a message withdrawn with DELETE', async () => {
      await ua.disconnect();
      const id = await push('withdrawn');
      await push('kept');
      expect((await send(`${service.url}/m/${id}`, { method: 'DELETE' })).status).toBe(204);

      expect(await reconnectAndCollectUntilMarker()).toEqual(['kept', 'marker']);
    });

    it('acks 101 and calls no listener when a message does not decrypt', async () => {
      const other = createUserAgent({ serviceUrl: service.wsUrl });
      try {
        // Encrypted for another subscription's keys, sent to ours.
        const foreign = await other.subscribe(vapid.publicKey);
        const calls: Uint8Array[] = [];
        ua.onMessage((data) => calls.push(data));
        const ack = nextEvents(service, 'ack', 1);
        const response = await pushWithWebPush(
          { ...foreign, endpoint: subscription.endpoint },
          'not for you',
          vapid,
        );
        expect(response.status).toBe(201);
        expect((await ack)[0]?.code).toBe(101);
        expect(calls).toEqual([]);
        expect(ua.decryptFailures).toBe(1);
        expect(service.stats()).toMatchObject({ pending: 0, acked: { 101: 1 } });
      } finally {
        await other.close();
      }
    });
  });
});
