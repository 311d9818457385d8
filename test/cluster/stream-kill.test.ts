import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRedis } from '../support/redis.js';
import { type Cluster, eventually, finishAndCheck, startCluster } from './cluster.js';
import { startFeed } from './traffic.js';

beforeAll(() => requireRedis({ running: false, binary: true }));

const PRODUCTS = ['p1', 'p2'];

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ instances: 3 });
});

afterAll(async () => {
  await cluster?.close();
});

describe('a stream tab and a push tab across instances on Redis', () => {
  it('keeps every event exactly once, in order, at both tabs when the instance holding the stream is killed', async () => {
    const [pushTab] = await cluster.openTabs(1, 1, PRODUCTS);
    const streamTab = await cluster.openStreamTab(PRODUCTS);
    if (!pushTab) throw new Error('no push tab');
    const feed = startFeed(PRODUCTS, cluster.targets, 40);
    await eventually(() => expect(feed.confirmed()).toBeGreaterThanOrEqual(40));

    // The instance the balancer sent the stream to (any instance serves any tab's stream).
    const holding = [...cluster.balancer.openStreams].filter(([, open]) => open > 0);
    expect(holding).toHaveLength(1);
    const [origin] = holding[0] ?? [''];
    const victim = cluster.live.find((instance) => new URL(instance.url).origin === origin);
    if (!victim) throw new Error(`no live instance at ${origin}`);
    const deliveredBefore = streamTab.watches.map((watch) => watch.stocks.length);

    cluster.withdraw(victim);
    await victim.kill();

    // The stream is served again, from another instance, and events keep arriving at both tabs.
    await eventually(() => {
      const open = [...cluster.balancer.openStreams].filter(([, count]) => count > 0);
      expect(open.map(([backend]) => backend)).not.toContain(origin);
      expect(open).toHaveLength(1);
      streamTab.watches.forEach((watch, i) => {
        expect(watch.stocks.length).toBeGreaterThan((deliveredBefore[i] ?? 0) + 5);
      });
    }, 20_000);
    expect(streamTab.mode()).toBe('stream');
    expect(pushTab.mode()).toBe('push');

    await eventually(() => expect(feed.confirmed()).toBeGreaterThanOrEqual(300), 30_000);
    await finishAndCheck(cluster, [pushTab, streamTab], feed);
  });
});
