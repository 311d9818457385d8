import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { createRedisStore, generateVapidKeys, useWebPush } from '../server/index.js';
import { commandCalls, countSent, stockSchemaOnRedis } from './redis-commands.js';

/** What idle registrations cost Redis on one instance. */
export interface IdleRound {
  registrations: number;
  /** Round trips the instance sent per second while nobody renewed and nothing was published. */
  idlePerSecond: number;
  /** Commands Redis executed per name in that window (scripts' calls included). */
  idleByCommand: Record<string, number>;
  /** Round trips one renewal costs per registration it renews (tabs of 10 registrations). */
  perRenewedRegistration: number;
  /** The instance's renewal interval: each registration is renewed once per interval. */
  renewIntervalMs: number;
}

const TABS_PER_PRODUCT = 20;
const PER_TAB = 10;

/**
 * One Yoga instance on Redis (store and Streams pubsub) with `registrations` idle registrations
 * (tabs of ten, on the stream, spread over ten operations), measuring the round trips it sends:
 * - idle: for `idleMs` in which nothing is published and no tab renews (what the instance does
 *   by itself: its one heartbeat, looking for orphaned groups, sweeping expiries);
 * - renewing: one `POST …/renew` per tab acknowledging its registrations, as the client sends
 *   every `renewIntervalMs`.
 * @param redisUrl - a Redis nobody else uses during the round
 * @returns the counts
 */
export async function measureIdle(
  redisUrl: string,
  { registrations = 2_000, idleMs = 10_000 } = {},
): Promise<IdleRound> {
  const redis = new Redis(redisUrl);
  const counter = countSent(redis);
  const admin = new Redis(redisUrl);
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const { pubSub, schema } = stockSchemaOnRedis(redis, `${prefix}-events`);
  const registrationTtlMs = 600_000;
  // Closed below: the store's own signal connection would otherwise reconnect for ever once
  // the suite's Redis stops, and keep the bench from exiting.
  const store = createRedisStore({ redis, prefix });
  const yoga = createYoga({
    schema,
    logging: false,
    plugins: [
      useWebPush({
        vapid: { subject: 'mailto:bench@example.com', ...generateVapidKeys() },
        store,
        registrationTtlMs,
        maxRegistrations: registrations * 2,
      }),
    ],
  });
  const server = createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  const post = async (path: string, body: unknown, register = false) => {
    const answer = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(register ? { 'x-graphql-web-push': 'register' } : {}),
      },
      body: JSON.stringify(body),
    });
    if (!answer.ok) throw new Error(`bench: ${path || 'register'} ${answer.status}`);
    return (await answer.json()) as unknown;
  };
  try {
    const tabs: { tabId: string; ids: string[] }[] = [];
    for (let t = 0; t < registrations / PER_TAB; t++) {
      const tab = { tabId: randomBytes(16).toString('base64url'), ids: [] as string[] };
      const productId = `p${Math.floor(t / TABS_PER_PRODUCT) % 10}`;
      for (let i = 0; i < PER_TAB; i++) {
        const answer = (await post(
          '',
          {
            query: 'subscription($p: ID!) { stockChanged(productId: $p) { id stock } }',
            variables: { p: productId },
            extensions: { webPush: { tabId: tab.tabId, operationKey: String(i) } },
          },
          true,
        )) as { extensions: { webPush: { registrationId: string } } };
        tab.ids.push(answer.extensions.webPush.registrationId);
      }
      tabs.push(tab);
    }
    // Let what registering started settle (group creation, first heartbeats).
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    await admin.call('CONFIG', 'RESETSTAT');
    const idleFrom = counter.sent;
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const idle = counter.sent - idleFrom;
    const idleCalls = await commandCalls(admin);

    const renewFrom = counter.sent;
    for (const tab of tabs) {
      await post('/push/renew', {
        tabId: tab.tabId,
        registrations: tab.ids.map((registrationId) => ({ registrationId, ackedSeq: 0 })),
      });
    }
    const renewed = counter.sent - renewFrom;
    return {
      registrations,
      idlePerSecond: idle / (idleMs / 1000),
      idleByCommand: Object.fromEntries([...idleCalls].sort((a, b) => b[1] - a[1])),
      perRenewedRegistration: renewed / registrations,
      renewIntervalMs: registrationTtlMs / 3,
    };
  } finally {
    await yoga.dispose();
    await store.close?.();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await pubSub.close();
    await redis.quit();
    await admin.quit();
  }
}
