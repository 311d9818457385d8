import { forEachLimited } from './sse-client.js';
import { startBenchServer } from './stream-child.js';
import { type Mode, type Subscriber, subscribe } from './stream-modes.js';

/** Topics the idle subscribers spread over, as products over product pages. */
const TOPICS = 3;

/**
 * Heap the server holds per idle subscriber, in a child server of its own: `warm` subscribers
 * first (so that code, caches and timers used by every subscriber are in the baseline), then
 * `count` more, each a tab of its own; heap after full collections before and after the
 * `count`. Afterwards one tick per topic must reach every subscriber, or the figure would be
 * that of broken subscriptions.
 * @param mode - a stream-mode registration with its open stream, or a Yoga SSE subscription
 * @param count - subscribers measured
 * @param warm - subscribers opened before the baseline
 * @returns heap bytes per subscriber
 */
export async function measureIdleHeap(mode: Mode, count: number, warm = 50): Promise<number> {
  const server = await startBenchServer();
  const open: Subscriber[] = [];
  let received = 0;
  const onTick = () => {
    received += 1;
  };
  const openSome = (n: number) =>
    forEachLimited(n, 16, async (i) => {
      open.push(await subscribe(mode, server.url, `idle-${i % TOPICS}`, onTick));
    });
  try {
    await openSome(warm);
    const before = await server.heap();
    await openSome(count);
    // Let the last subscriptions reach their sources.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = await server.heap();

    for (let topic = 0; topic < TOPICS; topic++) {
      server.tell('publish', { topic: `idle-${topic}`, n: 1 });
    }
    const deadline = Date.now() + 10_000;
    while (received < open.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (received !== open.length) {
      throw new Error(`bench: ${received} of ${open.length} ${mode} subscribers got the tick`);
    }
    return (after - before) / count;
  } finally {
    for (const subscriber of open) subscriber.close();
    await server.stop();
  }
}
