import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { createYoga } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { createUserAgent, startPushService } from '../push-service/index.js';
import { createPubSub, createRedisStore, generateVapidKeys, useWebPush } from '../server/index.js';
import { openTab, type Tab } from '../test/cluster/traffic.js';

/** Calls per command name since the last `CONFIG RESETSTAT`, without INFO and CONFIG themselves. */
export async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const match of (await redis.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) {
    const [, name = '', count = '0'] = match;
    if (name === 'info' || name.startsWith('config')) continue;
    calls.set(name, Number(count));
  }
  return calls;
}

export const sum = (calls: Map<string, number>) => [...calls.values()].reduce((a, b) => a + b, 0);

/**
 * The Redis suites' schema: `stockChanged(productId)` on `createPubSub` over Redis Streams, the
 * way an application on the Redis store subscribes.
 * @param redis - the client the pubsub uses
 * @param prefix - its key prefix
 * @returns the pubsub (to publish and close) and the schema
 */
export function stockSchemaOnRedis(redis: Redis, prefix: string) {
  const pubSub = createPubSub<{ stockChanged: [string, { id: string; stock: number }] }>({
    redis,
    prefix,
  });
  const schema = makeExecutableSchema({
    typeDefs: /* GraphQL */ `
      type Product { id: ID!, stock: Int! }
      type Query { ok: Boolean }
      type Subscription { stockChanged(productId: ID!): Product! }
    `,
    resolvers: {
      Subscription: {
        stockChanged: {
          subscribe: (_: unknown, { productId }: { productId: string }) =>
            pubSub.subscribe('stockChanged', productId),
          resolve: (product: unknown) => product,
        },
      },
    },
  });
  return { pubSub, schema };
}

/**
 * Counts the commands a client (and the connections it duplicates, such as the pubsub's blocking
 * one) sends: round trips, unlike `INFO commandstats`, which also counts what scripts call.
 */
export function countSent(redis: Redis): { sent: number } {
  const counter = { sent: 0 };
  const wrap = (client: Redis): Redis => {
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      counter.sent += 1;
      return send(...args);
    }) as Redis['sendCommand'];
    const duplicate = client.duplicate.bind(client);
    client.duplicate = ((...args: Parameters<Redis['duplicate']>) =>
      wrap(duplicate(...args))) as Redis['duplicate'];
    return client;
  };
  wrap(redis);
  return counter;
}

/** What one round of deliveries cost Redis. */
export interface CommandsRound {
  deliveries: number;
  /** Commands the instance sent (round trips). */
  sent: number;
  /** Commands Redis executed, including those inside Lua scripts. */
  commands: number;
  /** Commands per name, for the notes. */
  byCommand: Record<string, number>;
  /** Commands sent per second with the same registrations and no events (heartbeat, …). */
  idlePerSecond: number;
  /** Commands Redis executed per name in the idle window, for the notes. */
  idleByCommand: Record<string, number>;
  registrations: number;
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('bench: deliveries did not complete');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * One Yoga instance on Redis (store and Streams pubsub), the local push service, one browser
 * with `tabs` tabs each watching two of `products` products through the link; counts Redis
 * commands (`INFO commandstats`) while `events` events per product are published and delivered,
 * and while nothing happens for `idleMs`.
 * @param redisUrl - a Redis nobody else uses during the round
 * @returns deliveries and commands
 */
export async function measureCommands(
  redisUrl: string,
  { tabs = 10, products = 5, events = 50, idleMs = 5_000 } = {},
): Promise<CommandsRound> {
  const redis = new Redis(redisUrl);
  // Unregistrations the closing tabs sent may still be under way when the round ends.
  redis.on('error', () => {});
  const counter = countSent(redis);
  const admin = new Redis(redisUrl);
  const prefix = `bench-${Math.random().toString(36).slice(2, 8)}`;
  const { pubSub, schema } = stockSchemaOnRedis(redis, `${prefix}-events`);
  const pushService = await startPushService({ port: 0 });
  const vapid = { subject: 'mailto:bench@example.com', ...generateVapidKeys() };
  // Closed below: the store's own signal connection would otherwise reconnect for ever once
  // the suite's Redis stops, and keep the bench from exiting.
  const store = createRedisStore({ redis, prefix });
  const yoga = createYoga({
    schema,
    logging: false,
    plugins: [
      useWebPush({
        vapid,
        store,
        allowedPushOrigins: [pushService.origin],
      }),
    ],
  });
  const server = createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  const agent = createUserAgent({ serviceUrl: pushService.wsUrl });
  const opened: Tab[] = [];
  try {
    const ids = Array.from({ length: products }, (_, i) => `p${i + 1}`);
    for (let t = 0; t < tabs; t++) {
      const tab = openTab(url, agent);
      tab.watch(ids[t % products] as string);
      tab.watch(ids[(t + 1) % products] as string);
      opened.push(tab);
    }
    const watches = opened.flatMap((tab) => tab.watches);
    await waitUntil(() => opened.every((tab) => tab.registrations().length === 2), 20_000);

    await admin.call('CONFIG', 'RESETSTAT');
    const idleFrom = counter.sent;
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const idle = counter.sent - idleFrom;
    const idleCalls = await commandCalls(admin);

    await admin.call('CONFIG', 'RESETSTAT');
    const sentFrom = counter.sent;
    for (let stock = 1; stock <= events; stock++) {
      for (const productId of ids)
        await pubSub.publish('stockChanged', productId, { id: productId, stock });
    }
    await waitUntil(() => watches.every((watch) => watch.stocks.length >= events), 60_000);
    const calls = await commandCalls(admin);
    return {
      deliveries: watches.reduce((total, watch) => total + watch.stocks.length, 0),
      sent: counter.sent - sentFrom,
      commands: sum(calls),
      byCommand: Object.fromEntries([...calls].sort((a, b) => b[1] - a[1])),
      idlePerSecond: idle / (idleMs / 1000),
      idleByCommand: Object.fromEntries([...idleCalls].sort((a, b) => b[1] - a[1])),
      registrations: watches.length,
    };
  } finally {
    for (const tab of opened) tab.close();
    await agent.close();
    await yoga.dispose();
    await store.close?.();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await pubSub.close();
    await pushService.close();
    await redis.quit();
    await admin.quit();
  }
}
