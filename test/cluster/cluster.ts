/**
 * A whole multi-instance deployment for one test file: its own `redis-server`, the local push
 * service, server instances as child processes, a balancer in front, Node user agents and tabs.
 */
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { createUserAgent, startPushService, type UserAgent } from '../../push-service/index.js';
import { createRedisStore } from '../../server/store/redis.js';
import { keysWithPrefix } from '../../server/store/redis-test-support.js';
import { generateVapidKeys } from '../../server/vapid.js';
import { type Balancer, startBalancer } from './balancer.js';
import {
  type InstanceConfig,
  type InstanceProcess,
  killAllInstances,
  type RedisServer,
  startInstance,
  startRedisServer,
} from './processes.js';
import { type Feed, openTab, type Tab } from './traffic.js';

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  instances?: number;
  leaseTtlMs?: number;
  registrationTtlMs?: number;
}

/** Polls `check` until it stops throwing; fails with its last error after `timeoutMs`. */
export async function eventually(check: () => unknown | Promise<unknown>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/**
 * Starts the deployment.
 * @param options - how many instances and their timings
 * @returns handles to every part; `close()` it in `afterAll`
 */
export async function startCluster({
  instances: count = 3,
  leaseTtlMs = 3_000,
  registrationTtlMs = 10_000,
}: ClusterOptions = {}) {
  const redisServer: RedisServer = await startRedisServer();
  const pushService = await startPushService({ port: 0 });
  const vapid = generateVapidKeys();
  const prefix = `cluster-${Math.random().toString(36).slice(2, 10)}`;
  const config: InstanceConfig = {
    redisUrl: redisServer.url,
    prefix,
    pushOrigin: pushService.origin,
    vapid,
    leaseTtlMs,
    registrationTtlMs,
  };
  const redis = new Redis(redisServer.url, { retryStrategy: () => 20, maxRetriesPerRequest: null });
  redis.on('error', () => {});
  // Reads what the instances stored, as one more instance would (it runs nothing).
  const store = createRedisStore({ redis, prefix });
  const balancer: Balancer = await startBalancer();
  const live: InstanceProcess[] = [];
  let started = 0;
  const agents: UserAgent[] = [];
  const tabs: Tab[] = [];

  const route = () => balancer.setBackends(live.map((instance) => instance.url));

  /** Starts one more instance and puts it behind the balancer. */
  const addInstance = async (): Promise<InstanceProcess> => {
    const instance = await startInstance(`instance-${++started}`, config);
    live.push(instance);
    route();
    return instance;
  };

  /** Takes an instance out of the balancer and the feed's targets. */
  const withdraw = (instance: InstanceProcess): void => {
    const index = live.indexOf(instance);
    if (index >= 0) live.splice(index, 1);
    route();
  };

  await Promise.all(Array.from({ length: count }, addInstance));

  return {
    redisServer,
    redis,
    prefix,
    pushService,
    balancer,
    live,
    addInstance,
    withdraw,
    /** The instances' GraphQL URLs, for the feed. */
    targets: () => live.map((instance) => instance.url),

    /**
     * Opens `agents` browsers with `tabsPerAgent` tabs each; tab `i` watches `products[i % n]`
     * and the next product, and waits until every watch is registered.
     */
    async openTabs(agentCount: number, tabsPerAgent: number, products: string[]): Promise<Tab[]> {
      const opened: Tab[] = [];
      for (let a = 0; a < agentCount; a++) {
        const agent = createUserAgent({ serviceUrl: pushService.wsUrl });
        agents.push(agent);
        for (let t = 0; t < tabsPerAgent; t++) {
          const tab = openTab(balancer.url, agent);
          const i = opened.length;
          tab.watch(products[i % products.length] as string);
          tab.watch(products[(i + 1) % products.length] as string);
          opened.push(tab);
        }
      }
      tabs.push(...opened);
      // Live on the stream first; these suites are about the push path, so wait for the move.
      await eventually(() => {
        for (const tab of opened) {
          expect(tab.registrations()).toHaveLength(tab.watches.length);
          expect(tab.mode()).toBe('push');
        }
      });
      return opened;
    },

    /**
     * Opens a tab of a browser that allows no push, watching `products`; it reads the stream.
     * Waits until its watches are registered and its stream is open.
     */
    async openStreamTab(products: string[]): Promise<Tab> {
      const tab = openTab(balancer.url);
      for (const productId of products) tab.watch(productId);
      tabs.push(tab);
      await eventually(() => {
        expect(tab.registrations()).toHaveLength(tab.watches.length);
        expect(tab.mode()).toBe('stream');
      });
      return tab;
    },

    /** Tears down every tab's subscriptions (the exchange unregisters them). */
    closeTabs() {
      for (const tab of tabs) tab.close();
    },

    /**
     * Which instance runs each registration's execution group (registration id → instance name),
     * read through a store on the same Redis and prefix.
     */
    async owners(registrationIds: string[]): Promise<Map<string, string | null>> {
      const names = await Promise.all(
        registrationIds.map(async (id) => {
          const record = await store.getRegistration(id);
          return record ? ((await store.getGroup(record.groupId))?.owner ?? null) : null;
        }),
      );
      return new Map(registrationIds.map((id, i) => [id, names[i] ?? null]));
    },

    /** The stock values in a product's event stream, in stream order. */
    async stream(productId: string): Promise<number[]> {
      const entries = await redis.xrange(`{${prefix}-events}:stockChanged:${productId}`, '-', '+');
      return entries.map(
        ([, fields]) => (JSON.parse(fields[1] ?? 'null') as { stock: number }).stock,
      );
    },

    /** Every key of the store (not the event streams, which have their own prefix). */
    storeKeys: () => keysWithPrefix(redis, prefix),

    /** What the instances wrote to stderr, for failure messages. */
    logs: () => live.map((instance) => `--- ${instance.name}\n${instance.log()}`).join('\n'),

    async close() {
      for (const tab of tabs) tab.close();
      await Promise.all(agents.map((agent) => agent.close()));
      await Promise.all(live.map((instance) => instance.terminate()));
      await killAllInstances();
      await balancer.close();
      await pushService.close();
      await store.close?.();
      redis.disconnect();
      await redisServer.stop();
    },
  };
}

export type Cluster = Awaited<ReturnType<typeof startCluster>>;

/**
 * Waits until every watch received every value the feed confirmed.
 * @param tabs - the tabs
 * @param feed - the feed
 * @param timeoutMs - how long to wait at most
 */
export async function allDelivered(tabs: Tab[], feed: Feed, timeoutMs = 20_000): Promise<void> {
  await eventually(() => {
    for (const tab of tabs) {
      for (const watch of tab.watches) {
        const confirmed = feed.published.get(watch.productId)?.confirmed ?? [];
        const received = new Set(watch.stocks);
        expect(confirmed.filter((value) => !received.has(value))).toEqual([]);
      }
    }
  }, timeoutMs);
}

/**
 * Ends a run and checks the guarantee. Stops the feed, waits for every confirmed value at every
 * tab, publishes one last value per product and waits for it too (the exchange emits a
 * registration's messages in order, so anything stored before it has arrived), then checks:
 * - every watch received exactly the product's events as the event stream in Redis holds them:
 *   each once, in stream order, and no error;
 * - every confirmed publish is in the stream, and the stream holds nothing the feed did not send;
 * - each stream holds every value once, in the order sent.
 */
export async function finishAndCheck(cluster: Cluster, tabs: Tab[], feed: Feed): Promise<void> {
  await feed.stop();
  await allDelivered(tabs, feed);
  await feed.last();
  await allDelivered(tabs, feed);

  const streams = new Map<string, number[]>();
  for (const productId of feed.published.keys())
    streams.set(productId, await cluster.stream(productId));
  expect(
    tabs.flatMap((tab) =>
      tab.watches.map((watch) => ({
        product: watch.productId,
        stocks: watch.stocks,
        errors: watch.errors,
      })),
    ),
  ).toEqual(
    tabs.flatMap((tab) =>
      tab.watches.map((watch) => ({
        product: watch.productId,
        stocks: streams.get(watch.productId),
        errors: [],
      })),
    ),
  );
  for (const [productId, published] of feed.published) {
    const stored = streams.get(productId) ?? [];
    const inStream = new Set(stored);
    const sent = new Set(published.sent);
    expect({
      product: productId,
      lost: published.confirmed.filter((value) => !inStream.has(value)),
      neverSent: stored.filter((value) => !sent.has(value)),
      ordered: stored.every((value, i) => i === 0 || value > (stored[i - 1] ?? 0)),
    }).toEqual({ product: productId, lost: [], neverSent: [], ordered: true });
  }
}
