import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRedis } from '../support/redis.js';
import { type Cluster, eventually, finishAndCheck, startCluster } from './cluster.js';
import { startFeed } from './traffic.js';

beforeAll(() => requireRedis({ running: false, binary: true }));

const PRODUCTS = ['p1', 'p2', 'p3'];

describe('a Redis restart while events flow', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('keeps every instance serving; what Redis kept is not lost; every event arrives once, in order', async () => {
    const tabs = await cluster.openTabs(2, 3, PRODUCTS);
    const feed = startFeed(PRODUCTS, cluster.targets, 50);
    await eventually(() => expect(feed.confirmed()).toBeGreaterThanOrEqual(50));

    const before = feed.confirmed();
    await cluster.redisServer.restart({ downMs: 300 });

    // Mutations go through again, on instances that are still the same processes.
    await eventually(() => expect(feed.confirmed()).toBeGreaterThanOrEqual(before + 150), 30_000);
    expect(cluster.live.map((instance) => instance.alive())).toEqual([true, true, true]);
    // A publish under way when Redis stopped is sent again by ioredis; it must be stored once.
    await finishAndCheck(cluster, tabs, feed);
  });
});
