import { randomBytes } from 'node:crypto';
import type { FormattedExecutionResult } from 'graphql';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../../examples/inventory/cluster.js';
import { EXAMPLE_VAPID_SUBJECT } from '../../examples/inventory/vapid-file.js';
import { createClient, type WebPushClient } from '../../link/index.js';
import { type PushService, startPushService } from '../../push-service/index.js';
import { generateVapidKeys } from '../../server/index.js';
import { requireRedis } from '../support/redis.js';
import { waitFor } from '../support/stack.js';
import { STOCK_CHANGED } from '../support/tab.js';

beforeAll(() => requireRedis());

/**
 * `npm run start:cluster`'s cluster: two example instances as child processes on the Redis store,
 * behind the balancer, with one push service. Tabs are Node clients on the balancer's URL.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `cluster-example-${randomBytes(4).toString('hex')}`;
const lines: string[] = [];
const routes: { method: string; path: string; backend: string }[] = [];
let pushService: PushService;
let cluster: Cluster;
const clients: WebPushClient[] = [];

beforeAll(async () => {
  pushService = await startPushService();
  cluster = await startCluster({
    vapid: { subject: EXAMPLE_VAPID_SUBJECT, ...generateVapidKeys() },
    pushService,
    redisUrl: REDIS_URL,
    prefix,
    leaseTtlMs: 1_000,
    onLine: (instance, line) => lines.push(`[${instance}] ${line}`),
    onForward: (route) => routes.push(route),
  });
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.dispose();
  await cluster?.close();
  await pushService?.close();
  // Leave the shared Redis as it was.
  const redis = new Redis(REDIS_URL);
  for (const pattern of [`${prefix}*`, `{${prefix}-events}*`]) {
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: pattern, count: 500 })) {
      keys.push(...(batch as string[]));
    }
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
}, 30_000);

/** Sends a mutation through the balancer and answers the stock and which instance ran it. */
async function restock(productId: string): Promise<{ stock: number; instance: string | null }> {
  const response = await fetch(`${cluster.url}graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation ($id: ID!) { restock(productId: $id, quantity: 1) { stock } }',
      variables: { id: productId },
    }),
  });
  const body = (await response.json()) as { data: { restock: { stock: number } } };
  return { stock: body.data.restock.stock, instance: response.headers.get('x-inventory-instance') };
}

/** A tab on the balancer's URL, live over the stream, recording the stock it is shown. */
function openTab(productId: string) {
  const client = createClient({ url: `${cluster.url}graphql`, storage: null, gapWaitMs: 100 });
  clients.push(client);
  const results: FormattedExecutionResult[] = [];
  client.subscribe(
    { query: STOCK_CHANGED, variables: { productId } },
    { next: (result) => results.push(result), error: () => {}, complete: () => {} },
  );
  return {
    client,
    stocks: () =>
      results.flatMap((result) =>
        result.data
          ? [(result.data as { stockChanged: { stock: number } }).stockChanged.stock]
          : [],
      ),
    registered: () =>
      client.inspect().stream === 'open' && client.inspect().registrations.length === 1,
  };
}

describe('npm run start:cluster', () => {
  it('serves the page from both instances through one URL, in turn', async () => {
    const served = await Promise.all(
      [1, 2, 3, 4].map(async () => (await fetch(cluster.url)).headers.get('x-inventory-instance')),
    );
    expect(served.sort()).toEqual(['a', 'a', 'b', 'b']);
    expect(await (await fetch(cluster.url)).text()).toContain('__INVENTORY_CONFIG__');
  });

  it('streams to each tab, through the balancer, every change made on either instance', async () => {
    const tabs = [openTab('p2'), openTab('p2')];
    await waitFor(() => tabs.every((tab) => tab.registered()), 'both tabs live', 15_000);

    const changes = [];
    for (let i = 0; i < 6; i++) changes.push(await restock('p2'));
    expect(new Set(changes.map((change) => change.instance))).toEqual(new Set(['a', 'b']));

    const expected = changes.map((change) => change.stock);
    await waitFor(
      () => tabs.every((tab) => tab.stocks().length >= expected.length),
      'six changes on each tab',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const tab of tabs) expect(tab.stocks()).toEqual(expected);
  });

  it('keeps every tab live when the instance running a registration is killed', async () => {
    routes.length = 0;
    const tabs = [openTab('p3'), openTab('p3')];
    await waitFor(() => tabs.every((tab) => tab.registered()), 'both tabs live', 15_000);
    // The instance a registration was posted to runs it.
    const registeredOn = routes.find(
      (route) => route.method === 'POST' && route.path === '/graphql',
    )?.backend;
    const victim = cluster.instances.find((instance) => instance.url === registeredOn);
    const survivor = cluster.instances.find((instance) => instance !== victim);
    const before = await restock('p3');
    await waitFor(() => tabs.every((tab) => tab.stocks().length === 1), 'the first change');

    await victim?.stop('SIGKILL');
    const after = [];
    for (let i = 0; i < 3; i++) after.push(await restock('p3'));
    expect(after.map((change) => change.instance)).toEqual(Array(3).fill(survivor?.name));

    const expected = [before, ...after].map((change) => change.stock);
    await waitFor(
      () => tabs.every((tab) => tab.stocks().length >= expected.length),
      `every change on every tab after the kill\n${lines.join('\n')}`,
      15_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const tab of tabs) expect(tab.stocks()).toEqual(expected);
  }, 40_000);
});
