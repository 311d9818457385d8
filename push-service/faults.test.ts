import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PushSubscriptionData } from '../protocol/index.js';
import { PushErrorCode } from './service/errors.js';
import { type Faults, InvalidFaultsError } from './service/faults.js';
import { HTTP2, type Mode, PLAIN, startIn } from './service/https-test-support.js';
import { startPushService } from './service/service.js';
import { ackOf, messageIdOf, pushWithWebPush, vapidKeys, within } from './service/test-helpers.js';
import type { MessageEvent, PushService } from './service/types.js';
import { createUserAgent, type UserAgent } from './user-agent/user-agent.js';

const vapid = vapidKeys();
let service: PushService;
let ua: UserAgent;
let subscription: PushSubscriptionData;
let received: string[];

const push = (payload: string) => pushWithWebPush(subscription, payload, vapid);

const pushAll = async (payloads: string[]) => {
  const statuses: number[] = [];
  for (const payload of payloads) statuses.push((await push(payload)).status);
  return statuses;
};

const numbered = (count: number) => Array.from({ length: count }, (_, i) => `m${i}`);

/** Waits until the user agent has received `count` messages in all. */
const untilReceived = (count: number) =>
  within(
    new Promise<void>((resolve) => {
      const check = () => {
        if (received.length >= count) {
          stop();
          resolve();
        }
      };
      const stop = ua.onMessage(() => queueMicrotask(check));
      check();
    }),
    5000,
    `${count} messages`,
  );

/** With faults off, pushes a marker and waits for it: whatever was coming has come. */
const settle = async () => {
  service.setFaults({});
  const before = received.length;
  const response = await push('marker');
  expect((await ackOf(service, messageIdOf(response))).code).toBe(100);
  expect(received.slice(before)).toContain('marker');
  received.splice(received.indexOf('marker', before), 1);
};

// Faults act the same whichever way the messages come.
describe.each<Mode>([PLAIN, HTTP2])('over $name', (mode) => {
  beforeEach(async () => {
    service = await startIn(mode);
    ua = createUserAgent({ serviceUrl: service.wsUrl });
    subscription = await ua.subscribe(vapid.publicKey);
    received = [];
    ua.onMessage((data) => received.push(Buffer.from(data).toString('utf8')));
  });

  afterEach(async () => {
    await ua.close();
    await service.close();
  });

  describe('fault injection', () => {
    it('drop: answers 201 but never delivers the dropped messages', async () => {
      service.setFaults({ drop: 0.3, seed: 7 });
      const events: MessageEvent[] = [];
      const stop = service.on('message', (event) => events.push(event));
      const sent = numbered(20);
      expect(await pushAll(sent)).toEqual(sent.map(() => 201));
      stop();
      await settle();

      const dropped = events.filter((event) => event.dropped).length;
      expect(dropped).toBeGreaterThan(0);
      expect(dropped).toBeLessThan(20);
      expect(received).toHaveLength(20 - dropped);
      expect(service.stats()).toMatchObject({ accepted: 21, dropped, pending: 0 });
    });

    it('drop: the same seed drops the same messages', async () => {
      const droppedIndexes = async (target: PushService, sub: PushSubscriptionData) => {
        target.setFaults({ drop: 0.5, seed: 42 });
        const indexes: number[] = [];
        let index = 0;
        const stop = target.on('message', (event) => {
          if (event.dropped) indexes.push(index);
          index++;
        });
        for (const payload of numbered(16)) await pushWithWebPush(sub, payload, vapid);
        stop();
        return indexes;
      };
      const other = await startIn(mode);
      const otherUa = createUserAgent({ serviceUrl: other.wsUrl });
      try {
        const otherSubscription = await otherUa.subscribe(vapid.publicKey);
        const first = await droppedIndexes(service, subscription);
        expect(first.length).toBeGreaterThan(0);
        expect(await droppedIndexes(other, otherSubscription)).toEqual(first);
      } finally {
        await otherUa.close();
        await other.close();
      }
    });

    it('duplicate: delivers a second copy under a new version id', async () => {
      service.setFaults({ duplicate: 0.5, seed: 3 });
      const sent = numbered(10);
      await pushAll(sent);
      await settle();

      const { duplicated } = service.stats();
      expect(duplicated).toBeGreaterThan(0);
      expect(received).toHaveLength(10 + duplicated);
      expect(new Set(received)).toEqual(new Set(sent));
      const twice = sent.filter((payload) => received.filter((r) => r === payload).length === 2);
      expect(twice).toHaveLength(duplicated);
      const versions = service.acks.map((ack) => ack.version);
      expect(new Set(versions).size).toBe(versions.length);
      expect(service.stats().pending).toBe(0);
    });

    it('reorderWindow: shuffles within each window of N and never across windows', async () => {
      // A long flush timer: only full windows are released, however slow the requests are.
      service.setFaults({ reorderWindow: 4, reorderFlushMs: 10_000, seed: 5 });
      const sent = numbered(12);
      await pushAll(sent);
      await untilReceived(12);

      expect(received).not.toEqual(sent);
      for (let start = 0; start < 12; start += 4) {
        expect(new Set(received.slice(start, start + 4))).toEqual(
          new Set(sent.slice(start, start + 4)),
        );
      }
    });

    it('reorderWindow: releases a partial window after the flush timer', async () => {
      service.setFaults({ reorderWindow: 10, reorderFlushMs: 30, seed: 5 });
      const sent = numbered(3);
      await pushAll(sent);
      await untilReceived(3);
      expect(new Set(received)).toEqual(new Set(sent));
    });

    it('delayMs: holds each delivery, then delivers it', async () => {
      service.setFaults({ delayMs: [600, 800] });
      const arrived = untilReceived(1);
      await push('late');
      expect(service.stats().delivered).toBe(0);
      await arrived;
      expect(received).toEqual(['late']);
    });

    it('status429: answers 429 with Retry-After and stores nothing', async () => {
      service.setFaults({ status429: { rate: 1, retryAfterSeconds: 7 } });
      const response = await push('refused');
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('7');
      expect(await response.json()).toMatchObject({ code: 429, error: PushErrorCode.RateLimited });
      expect(service.stats()).toMatchObject({ accepted: 0, pending: 0, rejected: { 429: 1 } });
      await settle();
      expect(received).toEqual([]);
    });

    it('status429 at a rate: delivers exactly the messages answered 201', async () => {
      service.setFaults({ status429: { rate: 0.5, retryAfterSeconds: 1 }, seed: 11 });
      const sent = numbered(12);
      const statuses = await pushAll(sent);
      await settle();
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
      expect(received).toEqual(sent.filter((_, i) => statuses[i] === 201));
    });

    it('status500 and status503: answer 500/503 and store nothing', async () => {
      for (const [faults, status, error] of [
        [{ status500: 1 }, 500, PushErrorCode.InternalError],
        [{ status503: 1 }, 503, PushErrorCode.Unavailable],
      ] as [Faults, number, PushErrorCode][]) {
        service.setFaults(faults);
        const response = await push('refused');
        expect(response.status).toBe(status);
        expect(await response.json()).toMatchObject({ code: status, error });
      }
      expect(service.stats()).toMatchObject({
        accepted: 0,
        pending: 0,
        rejected: { 500: 1, 503: 1 },
      });
      await settle();
      expect(received).toEqual([]);
    });

    it('disconnectEvery: closes the socket after every N notifications; the user agent reconnects and loses nothing', async () => {
      service.setFaults({ disconnectEvery: 3 });
      const sent = numbered(10);
      await pushAll(sent);
      await untilReceived(10);
      await ua.connect();

      expect(new Set(received)).toEqual(new Set(sent));
      const stats = service.stats();
      expect(stats.delivered).toBe(10);
      expect(stats.disconnects).toBe(3);
      expect(ua.connections).toBe(4);
      expect(ua.uaid).toBe(service.acks[0]?.uaid);
    });

    it('refuses rates outside [0, 1]', async () => {
      expect(() => service.setFaults({ drop: 1.5 })).toThrow(InvalidFaultsError);
      await expect(startPushService({ faults: { duplicate: -1 } })).rejects.toThrow(
        InvalidFaultsError,
      );
    });
  });
});
