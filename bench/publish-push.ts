import { measurement, type SuiteResult } from './harness.js';
import { checkPushes, startPushBench } from './push-bench.js';
import { registerTabs, subscribeBrowsers } from './push-browsers.js';
import { percentile } from './stream-latency.js';

const ROUNDS = 5;
const EVENTS = 200;
const WARMUP = 20;
/** The figure before execution groups (one lease, runner and execution per registration). */
const BEFORE_MS = 0.49;

/**
 * Publish → push POST answered, one registration (memory store), the local push service over
 * loopback: the server (own process) publishes an event and reads the clock again when the
 * push service's 201 for its push arrived, both on its own clock: execution, log append,
 * delivery, encryption, VAPID header, the POST and its answer. Events go one at a time.
 */
export async function run(): Promise<SuiteResult> {
  const bench = await startPushBench();
  try {
    const [subscription] = await subscribeBrowsers(bench.service.wsUrl, bench.vapid.publicKey, 1);
    if (!subscription) throw new Error('bench: no subscription');
    await registerTabs(bench.url, [subscription], 1, 'p1');
    let stock = 0;
    for (let i = 0; i < WARMUP; i++)
      checkPushes('warm-up', await bench.publish('p1', ++stock, 1), 1);
    const p50: number[] = [];
    const p99: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const latencies: number[] = [];
      for (let i = 0; i < EVENTS; i++) {
        const event = await bench.publish('p1', ++stock, 1);
        checkPushes('event', event, 1);
        latencies.push(event.firstMs);
      }
      p50.push(percentile(latencies, 50));
      p99.push(percentile(latencies, 99));
    }
    return {
      suite: 'publish-push',
      measurements: [
        measurement('publish-push.p50', 'ms', p50),
        measurement('publish-push.p99', 'ms', p99),
      ],
      comparisons: [],
      notes: [
        `${ROUNDS} rounds × ${EVENTS} events after ${WARMUP} warm-up events; medians of the per-round p50 and p99 (nearest rank). Before execution groups this was ${BEFORE_MS} ms p50 (a constant, not measured here): compare p50 with it.`,
      ],
    };
  } finally {
    await bench.close();
  }
}
