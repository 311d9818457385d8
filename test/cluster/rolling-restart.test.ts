import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRedis } from '../support/redis.js';
import { type Cluster, eventually, finishAndCheck, startCluster } from './cluster.js';
import { startFeed } from './traffic.js';

beforeAll(() => requireRedis({ running: false, binary: true }));

const PRODUCTS = ['p1', 'p2', 'p3'];

describe('a rolling restart of every instance while events flow', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('hands each instance’s registrations over on SIGTERM; nothing is lost, duplicated or reordered', async () => {
    const tabs = await cluster.openTabs(2, 3, PRODUCTS);
    const ids = tabs.flatMap((tab) => tab.registrations());
    const feed = startFeed(PRODUCTS, cluster.targets, 50);
    await eventually(() => expect(feed.confirmed()).toBeGreaterThanOrEqual(30));

    const original = [...cluster.live];
    for (const instance of original) {
      cluster.withdraw(instance);
      // SIGTERM: the instance stops its streams and releases their leases before it exits.
      expect(await instance.terminate()).toBe(0);
      const replacement = await cluster.addInstance();
      // Its registrations run elsewhere again before the next instance goes.
      await eventually(async () => {
        const owners = await cluster.owners(ids);
        const running = new Set(cluster.live.map((live) => live.name));
        expect([...owners.values()].filter((owner) => !running.has(owner ?? ''))).toEqual([]);
      }, 10_000);
      expect(replacement.name).not.toBe(instance.name);
    }

    // Nobody from the first generation runs anything now.
    const owners = await cluster.owners(ids);
    const gone = new Set(original.map((instance) => instance.name));
    expect([...owners.values()].filter((owner) => gone.has(owner ?? ''))).toEqual([]);
    await finishAndCheck(cluster, tabs, feed);
  });
});
