import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRedis } from '../support/redis.js';
import { type Cluster, eventually, finishAndCheck, startCluster } from './cluster.js';
import { startFeed } from './traffic.js';

beforeAll(() => requireRedis({ running: false, binary: true }));

const PRODUCTS = ['p1', 'p2', 'p3'];

describe('three instances behind a balancer without sticky sessions, sharing Redis', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ registrationTtlMs: 4_000 });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('delivers every event exactly once, in order, at every tab, whichever instance registered it or published it', async () => {
    const tabs = await cluster.openTabs(2, 3, PRODUCTS);
    const owners = await cluster.owners(tabs.flatMap((tab) => tab.registrations()));
    expect([...owners.values()].every((owner) => owner?.startsWith('instance-'))).toBe(true);

    const feed = startFeed(PRODUCTS, cluster.targets, 50);
    await eventually(() => expect(feed.confirmed()).toBeGreaterThanOrEqual(150));
    await finishAndCheck(cluster, tabs, feed);

    // The balancer spread the tabs' requests over all three (the feed picks one per mutation).
    expect(cluster.balancer.forwarded.size).toBe(3);
  });

  it('leaves no key of an expired registration in Redis', async () => {
    // Browsers that go away: nothing renews or unregisters any more.
    cluster.balancer.refuse((path) => /\/push\/(renew|unregister)/.test(path));
    await cluster.openTabs(1, 2, ['p1', 'p2']).then((tabs) => {
      for (const tab of tabs) tab.close();
    });
    cluster.closeTabs();

    // The registrations go when they expire; the browser's push subscription a registration TTL
    // after its last use (a Redis TTL): then nothing is left at all.
    // The instances' own leases (`{i}`) stay while they live, whatever they serve.
    await eventually(async () => {
      const keys = await cluster.storeKeys();
      expect(keys.filter((key) => !key.startsWith(`${cluster.prefix}:{i}:`))).toEqual([]);
    }, 20_000);
  });
});
