import { afterEach, describe, expect, it } from 'vitest';
import { createUserAgent } from '../../push-service/index.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';
import { openTab } from '../support/tab.js';

/**
 * A browser offline while events flow: real push services keep what it has not received, and
 * Mozilla's autopush drops a browser whose backlog passes ~150 messages (the local push service
 * does the same, `maxPendingPerUserAgent`). With a Topic per registration, at most one push waits
 * per registration; the log holds the rest.
 */

let stack: Stack | undefined;
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await stack?.close();
  stack = undefined;
});

const EVENTS = 300;

async function offlineRun(pushTopics: boolean) {
  stack = await startStack({ plugin: { pushTopics } });
  const ua = createUserAgent({ serviceUrl: stack.pushService.wsUrl });
  cleanups.push(() => ua.close());
  const tab = openTab(stack.url, ua, { renewIntervalMs: 200, gapWaitMs: 100 });
  const watch = tab.watch('p1');
  cleanups.push(watch.unsubscribe, () => tab.handle.dispose());
  await waitFor(() => tab.handle.inspect().registrations.length === 1, 'registered');
  await tab.whenMode('push');

  await ua.disconnect();
  let mostPending = 0;
  const sample = setInterval(() => {
    mostPending = Math.max(mostPending, stack?.pushService.stats().pending ?? 0);
  }, 5);
  cleanups.push(() => clearInterval(sample));
  for (let stock = 1; stock <= EVENTS; stock++) await stack.setStock('p1', stock);
  // Every push the server made was answered before the browser comes back.
  const [registration] = tab.handle.inspect().registrations;
  await waitFor(
    async () =>
      (await stack?.store.getRegistration(registration?.registrationId as string))?.seq === EVENTS,
    'every event logged',
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  mostPending = Math.max(mostPending, stack.pushService.stats().pending);
  clearInterval(sample);
  await ua.connect();
  return { stack, ua, tab, watch, mostPending };
}

describe('a browser offline while 300 events flow', () => {
  it('leaves at most one push waiting at the push service, and the tab has all 300, once, in order, when it is back', async () => {
    const { stack, watch, mostPending } = await offlineRun(true);

    expect(mostPending).toBeLessThanOrEqual(1);
    expect(stack.pushService.stats()).toMatchObject({ userAgentsDropped: 0 });
    expect(stack.pushService.stats().replaced).toBeGreaterThan(EVENTS / 2);
    await waitFor(() => watch.results.length >= EVENTS, `${EVENTS} results`, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(watch.stocks()).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
  });

  it('without topics, piles up past autopush’s limit and gets the browser dropped; the tab still has every event from the log', async () => {
    const { stack, watch, mostPending } = await offlineRun(false);

    // This is what the topics avoid: the push service forgot the browser and all its channels.
    expect(mostPending).toBeGreaterThan(100);
    expect(stack.pushService.stats().userAgentsDropped).toBe(1);
    await waitFor(() => watch.results.length >= EVENTS, `${EVENTS} results`, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(watch.stocks()).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
  });
});
