import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { PushSubscriptionData } from '../../protocol/index.js';
import {
  type BareClient,
  hello,
  openBareClient,
  register,
  subscribeBare,
} from './bare-client-test-support.js';
import { PushCloseCode, PushErrorCode } from './errors.js';
import { DEFAULT_MAX_PENDING_PER_USER_AGENT } from './options.js';
import { startPushService } from './service.js';
import { nextEvents, pushWithWebPush, vapidKeys } from './test-helpers.js';
import type { PushService, PushServiceEvents, PushServiceOptions } from './types.js';

const vapid = vapidKeys();
let service: PushService;
const clients: BareClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.terminate();
  await service.close();
});

const start = async (options: PushServiceOptions = {}) => {
  service = await startPushService(options);
  return service;
};

/** A user agent with two channels, like a browser subscribed on two sites. */
const twoChannels = async () => {
  const first = await subscribeBare(service.wsUrl, vapid.publicKey);
  clients.push(first.client);
  const channelID = randomUUID();
  const reply = await register(first.client, channelID, `${vapid.publicKey}=`);
  const second: PushSubscriptionData = {
    ...first.subscription,
    endpoint: reply.pushEndpoint as string,
  };
  return { ...first, channelIDs: [first.channelID, channelID], second };
};

/** Posts `count` messages, one after the other, and returns their statuses. */
const pushMany = async (subscription: PushSubscriptionData, count: number, topic?: string) => {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await pushWithWebPush(subscription, `m${i}`, vapid, topic ? { topic } : {});
    statuses.push(response.status);
  }
  return statuses;
};

/** Collects every event of one kind from now on. */
const collect = <K extends keyof PushServiceEvents>(event: K) => {
  const seen: PushServiceEvents[K][] = [];
  service.on(event, (payload) => seen.push(payload));
  return seen;
};

const expectGone = async (subscription: PushSubscriptionData) => {
  const response = await pushWithWebPush(subscription, 'after the drop', vapid);
  expect(response.status).toBe(410);
  expect(await response.json()).toMatchObject({ code: 410, error: PushErrorCode.ChannelGone });
};

describe('maxPendingPerUserAgent: dropping a user agent with too many pending messages', () => {
  it('keeps 150 messages of an offline user agent by default, and drops it at the 151st (answered 201)', async () => {
    await start();
    const { client, uaid, channelIDs, subscription, second } = await twoChannels();
    client.socket.close();
    await client.closed();
    const dropped = collect('userAgentDropped');
    const removed = collect('removed');

    // Pending counts over all channels of the user agent.
    expect(await pushMany(subscription, 100)).toEqual(Array(100).fill(201));
    expect(await pushMany(second, 50)).toEqual(Array(50).fill(201));
    expect(service.stats()).toMatchObject({ pending: 150, userAgentsDropped: 0 });
    expect(dropped).toEqual([]);

    expect(await pushMany(second, 1)).toEqual([201]);
    expect(dropped).toEqual([{ uaid, pending: 151, channelIDs }]);
    expect(removed).toHaveLength(151);
    expect(new Set(removed.map((event) => event.reason))).toEqual(new Set(['user-agent-dropped']));
    expect(service.stats()).toMatchObject({ accepted: 151, pending: 0, userAgentsDropped: 1 });
    expect(DEFAULT_MAX_PENDING_PER_USER_AGENT).toBe(150);

    await expectGone(subscription);
    await expectGone(second);
    const again = await openBareClient(service.wsUrl);
    clients.push(again);
    const answer = await hello(again, uaid);
    expect(answer.uaid).toEqual(expect.stringMatching(/^[0-9a-f]{32}$/));
    expect(answer.uaid).not.toBe(uaid);
  });

  it('drops a connected user agent that does not acknowledge, closing its socket with 1000', async () => {
    await start({ maxPendingPerUserAgent: 5 });
    const { client, uaid, channelID, subscription } = await subscribeBare(
      service.wsUrl,
      vapid.publicKey,
    );
    clients.push(client);
    const hellos = collect('hello');
    expect(await pushMany(subscription, 5)).toEqual([201, 201, 201, 201, 201]);
    for (let i = 0; i < 5; i++) {
      expect(await client.next()).toMatchObject({ messageType: 'notification', channelID });
    }
    expect(service.stats().pending).toBe(5);

    const disconnected = nextEvents(service, 'disconnect', 1);
    expect(await pushMany(subscription, 1)).toEqual([201]);
    expect(await client.closed()).toBe(PushCloseCode.UserAgentDropped);
    expect(await disconnected).toEqual([{ uaid, code: PushCloseCode.UserAgentDropped }]);
    expect(service.stats()).toMatchObject({
      pending: 0,
      delivered: 5,
      userAgentsDropped: 1,
      connections: 0,
    });
    await expectGone(subscription);

    const again = await openBareClient(service.wsUrl);
    clients.push(again);
    const answer = await hello(again, uaid);
    expect(answer.uaid).not.toBe(uaid);
    expect(hellos).toEqual([{ uaid: answer.uaid, known: false }]);
  });

  it('never counts a message replaced by its Topic: with a Topic on every message it stays at one per channel', async () => {
    await start({ maxPendingPerUserAgent: 3 });
    const { client, subscription, second } = await twoChannels();
    client.socket.close();
    await client.closed();
    expect(await pushMany(subscription, 20, 'stock')).toEqual(Array(20).fill(201));
    expect(await pushMany(second, 20, 'stock')).toEqual(Array(20).fill(201));
    expect(service.stats()).toMatchObject({ pending: 2, replaced: 38, userAgentsDropped: 0 });
  });

  it('counts only the user agent the messages are for', async () => {
    await start({ maxPendingPerUserAgent: 2 });
    const busy = await subscribeBare(service.wsUrl, vapid.publicKey);
    const quiet = await subscribeBare(service.wsUrl, vapid.publicKey);
    clients.push(busy.client, quiet.client);
    expect(await pushMany(quiet.subscription, 2)).toEqual([201, 201]);
    expect(await pushMany(busy.subscription, 3)).toEqual([201, 201, 201]);
    await expectGone(busy.subscription);
    expect(service.stats()).toMatchObject({ pending: 2, userAgentsDropped: 1 });
    expect(quiet.client.socket.readyState).toBe(quiet.client.socket.OPEN);
  });

  it('ignores what a dropped user agent still sends on its closing socket', async () => {
    await start({ maxPendingPerUserAgent: 1 });
    const { client, subscription } = await subscribeBare(service.wsUrl, vapid.publicKey);
    clients.push(client);
    const registers = collect('register');
    // Sent while the service closes the socket: the frame is on its way before the close is.
    service.on('userAgentDropped', () => {
      client.send({ messageType: 'register', channelID: randomUUID(), key: `${vapid.publicKey}=` });
    });
    const disconnected = nextEvents(service, 'disconnect', 1);
    expect(await pushMany(subscription, 2)).toEqual([201, 201]);
    await disconnected;
    expect(registers).toEqual([]);
    expect(service.stats().userAgentsDropped).toBe(1);
  });

  it('takes Infinity for no limit, and refuses anything but a positive integer', async () => {
    await start({ maxPendingPerUserAgent: Number.POSITIVE_INFINITY });
    const { client, subscription } = await subscribeBare(service.wsUrl, vapid.publicKey);
    clients.push(client);
    client.socket.close();
    await client.closed();
    expect(await pushMany(subscription, 160)).toEqual(Array(160).fill(201));
    expect(service.stats()).toMatchObject({ pending: 160, userAgentsDropped: 0 });

    for (const value of [0, -1, 1.5, Number.NaN]) {
      await expect(startPushService({ maxPendingPerUserAgent: value })).rejects.toThrow(
        new RangeError(
          `maxPendingPerUserAgent must be a positive integer or Infinity, got ${String(value)}`,
        ),
      );
    }
  });
});
