import { afterEach, describe, expect, it } from 'vitest';
import type { PushSubscriptionData } from '../protocol/index.js';
import { startPushService } from './service/service.js';
import { pushWithWebPush, vapidKeys, within } from './service/test-helpers.js';
import type { PushService, PushServiceOptions } from './service/types.js';
import { nextMessages } from './test-helpers.js';
import { createUserAgent, type UserAgent } from './user-agent/user-agent.js';

const vapid = vapidKeys();
let service: PushService;
let ua: UserAgent;

afterEach(async () => {
  await ua.close();
  await service.close();
});

const start = async (options: PushServiceOptions) => {
  service = await startPushService(options);
  ua = createUserAgent({ serviceUrl: service.wsUrl });
  return ua.subscribe(vapid.publicKey);
};

const pushMany = async (subscription: PushSubscriptionData, count: number) => {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    statuses.push((await pushWithWebPush(subscription, `m${i}`, vapid)).status);
  }
  return statuses;
};

const nextChange = () =>
  within(
    new Promise<void>((resolve) => {
      const stop = ua.onSubscriptionChange(() => {
        stop();
        resolve();
      });
    }),
    3000,
    'subscription change',
  );

describe('the Node user agent after the service dropped it for its backlog', () => {
  it('loses its subscription on the next hello, tells its listeners, and can subscribe again', async () => {
    const old = await start({ maxPendingPerUserAgent: 5 });
    const uaid = ua.uaid;
    await ua.disconnect();
    expect(await pushMany(old, 6)).toEqual([201, 201, 201, 201, 201, 201]);

    const changed = nextChange();
    await ua.connect();
    await changed;
    expect(ua.uaid).not.toBe(uaid);
    expect(ua.getSubscription()).toBeNull();
    expect(ua.received).toBe(0);
    expect((await pushWithWebPush(old, 'to the old endpoint', vapid)).status).toBe(410);

    const fresh = await ua.subscribe(vapid.publicKey);
    expect(fresh.endpoint).not.toBe(old.endpoint);
    const got = nextMessages(ua, 1);
    expect((await pushWithWebPush(fresh, 'after the drop', vapid)).status).toBe(201);
    expect(await got).toEqual(['after the drop']);
  });

  it('is dropped while connected when its deliveries are held back, and reconnects with a new uaid', async () => {
    const old = await start({ maxPendingPerUserAgent: 3, faults: { delayMs: 60_000 } });
    const uaid = ua.uaid;
    const changed = nextChange();
    expect(await pushMany(old, 4)).toEqual([201, 201, 201, 201]);
    await changed;
    expect(ua.uaid).not.toBe(uaid);
    expect(ua.connections).toBe(2);
    expect(ua.getSubscription()).toBeNull();
    expect(service.stats()).toMatchObject({ pending: 0, delivered: 0, userAgentsDropped: 1 });
  });
});
