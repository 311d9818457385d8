import { afterEach, describe, expect, it } from 'vitest';
import { parsePushPayload } from '../../protocol/index.js';
import { createUserAgent } from '../../push-service/index.js';
import { waitForMode } from '../support/mode.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';
import { openTab, watchOverSse } from '../support/tab.js';

let stack: Stack | undefined;
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await stack?.close();
  stack = undefined;
});

async function setup(options: Parameters<typeof startStack>[0] = {}) {
  stack = await startStack(options);
  const ua = createUserAgent({ serviceUrl: stack.pushService.wsUrl });
  cleanups.push(() => ua.close());
  return { stack, ua };
}

/** Waits until every tab registration exists, so events published next reach it. */
async function registered(stack: Stack, count: number) {
  await waitFor(() => stack.inventory.iterators.opened >= count, `${count} registrations`);
}

describe('subscriptions over Web Push, end to end over real HTTP servers', () => {
  it('delivers every event once, in order, with the same data a plain Yoga SSE subscription yields', async () => {
    const { stack, ua } = await setup();
    const tab = openTab(stack.url, ua);
    const pushed = tab.watch('p1');
    const sse = watchOverSse(stack.url, 'p1');
    cleanups.push(pushed.unsubscribe, sse.unsubscribe);
    await registered(stack, 2);

    for (let stock = 1; stock <= 20; stock++) await stack.setStock('p1', stock);

    await waitFor(() => pushed.results.length >= 20 && sse.results.length >= 20, '20 results each');
    // Give any stray duplicate time to show up before counting exactly.
    await new Promise((r) => setTimeout(r, 200));
    expect(pushed.stocks()).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(pushed.results.map((r) => r.data)).toEqual(sse.results.map((r) => r.data));
    expect(pushed.results.every((r) => r.error === undefined)).toBe(true);
  });

  it('gives two tabs sharing one push subscription only their own results', async () => {
    const { stack, ua } = await setup();
    const tabA = openTab(stack.url, ua);
    const tabB = openTab(stack.url, ua);
    const a = tabA.watch('p1');
    const b = tabB.watch('p2');
    cleanups.push(a.unsubscribe, b.unsubscribe);
    await registered(stack, 2);
    const [subA, subB] = await Promise.all([
      ua.subscribe(stack.vapid.publicKey),
      ua.subscribe(stack.vapid.publicKey),
    ]);
    expect(subA.endpoint).toBe(subB.endpoint);

    await stack.setStock('p1', 7);
    await stack.setStock('p2', 70);
    await stack.setStock('p1', 8);

    await waitFor(() => a.results.length >= 2 && b.results.length >= 1, 'both tabs served');
    await new Promise((r) => setTimeout(r, 200));
    expect(a.stocks()).toEqual([7, 8]);
    expect(b.stocks()).toEqual([70]);
  });

  it('sends one push for two tabs of one browser watching the same product, and each tab gets its own envelope', async () => {
    const { stack, ua } = await setup();
    const tabA = openTab(stack.url, ua);
    const tabB = openTab(stack.url, ua);
    const a = tabA.watch('p1');
    const b = tabB.watch('p1');
    cleanups.push(a.unsubscribe, b.unsubscribe);
    await registered(stack, 2);
    await Promise.all([waitForMode(tabA.handle, 'push'), waitForMode(tabB.handle, 'push')]);
    const batches: number[] = [];
    ua.onMessage((data) => batches.push(parsePushPayload(data)?.length ?? 0));
    const accepted = stack.pushService.stats().accepted;

    await stack.setStock('p1', 5);
    await stack.setStock('p1', 6);

    await waitFor(() => a.results.length >= 2 && b.results.length >= 2, 'both tabs served');
    await new Promise((r) => setTimeout(r, 200));
    expect(a.stocks()).toEqual([5, 6]);
    expect(b.stocks()).toEqual([5, 6]);
    // One push per event carried both tabs' envelopes; the user agent's link split them.
    expect(stack.pushService.stats().accepted - accepted).toBe(2);
    expect(batches).toEqual([2, 2]);
  });

  it('emits a push that the push service delivers twice only once', async () => {
    const { stack, ua } = await setup({ pushService: { faults: { duplicate: 1, seed: 7 } } });
    const tab = openTab(stack.url, ua);
    const watch = tab.watch('p1');
    cleanups.push(watch.unsubscribe);
    await registered(stack, 1);
    // The tab goes live on the stream, then moves to push (the user agent's permission holds).
    await tab.whenMode('push');

    await stack.setStock('p1', 1);
    await stack.setStock('p1', 2);
    await stack.setStock('p1', 3);

    await waitFor(() => stack.pushService.stats().duplicated >= 3, 'three duplicated deliveries');
    await waitFor(() => watch.results.length >= 3, 'three results');
    await new Promise((r) => setTimeout(r, 300));
    expect(ua.received).toBeGreaterThanOrEqual(6);
    expect(watch.stocks()).toEqual([1, 2, 3]);
  });

  it('stops the pushes when urql unsubscribes, and closes the resolver iterator', async () => {
    const { stack, ua } = await setup();
    const tab = openTab(stack.url, ua);
    const watch = tab.watch('p1');
    await registered(stack, 1);
    await stack.setStock('p1', 1);
    await waitFor(() => watch.results.length === 1, 'first result');

    watch.unsubscribe();
    await waitFor(() => stack.inventory.iterators.closed === 1, 'iterator closed');
    const receivedBefore = ua.received;
    await stack.setStock('p1', 2);
    await new Promise((r) => setTimeout(r, 300));

    expect(ua.received).toBe(receivedBefore);
    expect(watch.stocks()).toEqual([1]);
    expect(await stack.store.takeExpired(Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  it('expires a registration that is not renewed and runs the iterator return()', async () => {
    const { stack, ua } = await setup({ registrationTtlMs: 400, sweepIntervalMs: 50 });
    // The tab never renews within the test.
    const tab = openTab(stack.url, ua, { renewIntervalMs: 60_000 });
    const watch = tab.watch('p1');
    cleanups.push(watch.unsubscribe);
    await registered(stack, 1);
    expect(stack.inventory.iterators.closed).toBe(0);

    await waitFor(
      () => stack.inventory.iterators.closed === 1,
      'iterator return() after expiry',
      5_000,
    );
    expect(await stack.store.takeExpired(Number.MAX_SAFE_INTEGER)).toEqual([]);
  });
});
