import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRedis } from '../support/redis.js';
import { type Cluster, eventually, finishAndCheck, startCluster } from './cluster.js';
import { startFeed } from './traffic.js';

beforeAll(() => requireRedis({ running: false, binary: true }));

const PRODUCTS = ['p1', 'p2', 'p3'];
const LEASE_TTL_MS = 3_000;
/** The lease runs out at most its TTL after the kill; adoption rounds run every fifth of it, ±25 %. */
const ADOPT_WITHIN_MS = LEASE_TTL_MS + (LEASE_TTL_MS / 5) * 1.25;

describe('kill -9 of an instance while events flow', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ leaseTtlMs: LEASE_TTL_MS });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('hands the dead instance’s registrations to the others within the lease time; every event arrives once, in order', async () => {
    const tabs = await cluster.openTabs(2, 3, PRODUCTS);
    const ids = tabs.flatMap((tab) => tab.registrations());
    const feed = startFeed(PRODUCTS, cluster.targets, 50);
    await eventually(() => expect(feed.confirmed()).toBeGreaterThanOrEqual(50));

    // The instance that owns most registrations.
    const owners = await cluster.owners(ids);
    const counts = new Map<string, number>();
    for (const owner of owners.values())
      counts.set(owner ?? '', (counts.get(owner ?? '') ?? 0) + 1);
    const [victimName] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? [''];
    const victim = cluster.live.find((instance) => instance.name === victimName);
    if (!victim) throw new Error(`no live instance ${victimName}`);
    const orphans = ids.filter((id) => owners.get(id) === victimName);
    expect(orphans.length).toBeGreaterThanOrEqual(Math.ceil(ids.length / 3));

    cluster.withdraw(victim);
    await victim.kill();
    const publishedBeforeKill = new Map(
      PRODUCTS.map((id) => [id, feed.published.get(id)?.sent.length ?? 0]),
    );

    // Every orphan is owned by a survivor again, and every tab has an event published after the kill.
    await eventually(async () => {
      const now = await cluster.owners(orphans);
      expect([...now.values()].filter((owner) => owner === victimName || owner === null)).toEqual(
        [],
      );
      for (const tab of tabs) {
        for (const watch of tab.watches) {
          const before = publishedBeforeKill.get(watch.productId) ?? 0;
          expect(watch.stocks.at(-1) ?? 0).toBeGreaterThan(before);
        }
      }
    }, ADOPT_WITHIN_MS + 3_000);

    await eventually(() => expect(feed.confirmed()).toBeGreaterThanOrEqual(400), 30_000);
    await finishAndCheck(cluster, tabs, feed);
  });

  it('kills the owner of shared execution groups while they fan out; every member gets every event once', async () => {
    await cluster.addInstance();
    const shared = ['p8', 'p9'];
    // 24 tabs of 4 browsers, each watching both products: per instance, one group per product
    // with several members, each event one batched push per browser.
    const tabs = await cluster.openTabs(4, 6, shared);
    const ids = tabs.flatMap((tab) => tab.registrations());
    const owners = await cluster.owners(ids);
    const members = new Map<string, number>();
    for (const owner of owners.values())
      members.set(owner ?? '', (members.get(owner ?? '') ?? 0) + 1);
    const [victimName, victimMembers = 0] = [...members].sort((a, b) => b[1] - a[1])[0] ?? [''];
    expect(victimMembers).toBeGreaterThanOrEqual(2 * shared.length);
    const victim = cluster.live.find((instance) => instance.name === victimName);
    if (!victim) throw new Error(`no live instance ${victimName}`);
    const orphans = ids.filter((id) => owners.get(id) === victimName);

    const feed = startFeed(shared, cluster.targets, 80);
    await eventually(() => expect(feed.confirmed()).toBeGreaterThanOrEqual(40));
    cluster.withdraw(victim);
    await victim.kill();

    await eventually(async () => {
      const now = await cluster.owners(orphans);
      expect([...now.values()].filter((owner) => owner === victimName || owner === null)).toEqual(
        [],
      );
    }, ADOPT_WITHIN_MS + 3_000);
    await eventually(() => expect(feed.confirmed()).toBeGreaterThanOrEqual(300), 30_000);
    await finishAndCheck(cluster, tabs, feed);
  }, 90_000);
});
