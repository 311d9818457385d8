import { startBenchChild } from './child.js';
import { compare, measurement, type SuiteResult } from './harness.js';
import { checkPushes, startPushBench } from './push-bench.js';
import { registerTabs, subscribeBrowsers } from './push-browsers.js';

const BROWSERS = 5000;
const ROUNDS = 5;
const DELAY_MS = 50;
const IN_FLIGHT = 50;
/** The proxy takes the service's port on another loopback address. */
const PROXY_ADDRESS = '127.0.0.2';

/**
 * One event to 5,000 registrations with a push service 50 ms away: the local push service named
 * `localhost` in secure mode (TLS; HTTP/2 by ALPN, as FCM, autopush, APNs and WNS), a TCP relay
 * (a process of its own) on 127.0.0.2 at the same port that holds every chunk 25 ms each way,
 * and the server (own process) resolving `localhost` to the relay, so that endpoints,
 * certificate and VAPID audience are the service's while every round trip crosses the delay. The 5,000 registrations are 5,000
 * browsers (one tab each): no batching, 5,000 pushes per event, the same work `web-push` does, so
 * the comparison is of sending alone. Per round, alternating: the event's wall time from the
 * publish until the last push was answered, and the same 5,000 pushes with `web-push` by hand, 50
 * in flight through the same relay (HTTPS/1.1 keep-alive: what `web-push` speaks). The sender
 * runs with its default concurrency per origin.
 */
export async function run(): Promise<SuiteResult> {
  const bench = await startPushBench({
    host: 'localhost',
    localhostAddress: PROXY_ADDRESS,
    secure: true,
  });
  // The TLS side of the service (its `port` serves the browsers' WebSockets).
  const pushPort = Number(new URL(bench.service.origin).port);
  // In a process of its own: the far side of a real push service does not share our event loop.
  const proxy = await startBenchChild<unknown>(
    new URL('./delay-proxy-child.ts', import.meta.url).pathname,
    {
      DELAY_PROXY: JSON.stringify({
        host: PROXY_ADDRESS,
        port: pushPort,
        target: { host: 'localhost', port: pushPort },
        delayMs: DELAY_MS,
      }),
    },
  ).catch(async (error) => {
    await bench.close();
    throw error;
  });
  try {
    const subscriptions = await subscribeBrowsers(
      bench.service.wsUrl,
      bench.vapid.publicKey,
      BROWSERS,
    );
    await registerTabs(bench.url, subscriptions, 1, 'p1');
    let stock = 0;
    checkPushes('warm-up', await bench.publish('p1', ++stock, BROWSERS, true), BROWSERS);
    checkPushes('warm-up', await bench.webPush(IN_FLIGHT), BROWSERS);
    // Every push went through the relay: at least its body crossed it, on both sides.
    const relayed = await proxy.ask<{ connections: number; bytes: number }>('relayed');
    if (relayed.connections < 2 || relayed.bytes < 2 * BROWSERS * 100) {
      throw new Error(`bench: only ${JSON.stringify(relayed)} crossed the relay`);
    }

    const wall = { ours: [] as number[], webPush: [] as number[] };
    const cpu = { ours: [] as number[], webPush: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of round % 2
        ? (['webPush', 'ours'] as const)
        : (['ours', 'webPush'] as const)) {
        const cost =
          side === 'ours'
            ? await bench.publish('p1', ++stock, BROWSERS)
            : await bench.webPush(IN_FLIGHT);
        checkPushes(side, cost, BROWSERS);
        wall[side].push(cost.wallMs);
        cpu[side].push(cost.cpuUs / cost.pushes);
      }
    }
    const oursM = measurement('latency-rtt.wall-per-event.ours', 'ms', wall.ours);
    const webPushM = measurement('latency-rtt.wall-per-event.web-push-by-hand', 'ms', wall.webPush);
    return {
      suite: 'latency-rtt',
      measurements: [
        oursM,
        webPushM,
        measurement(
          'latency-rtt.ours-over-web-push.per-round',
          'ratio',
          wall.ours.map((ms, round) => ms / (wall.webPush[round] as number)),
        ),
        measurement('latency-rtt.cpu-per-push.ours', 'µs/push', cpu.ours),
        measurement('latency-rtt.cpu-per-push.web-push-by-hand', 'µs/push', cpu.webPush),
      ],
      comparisons: [
        compare(
          `wall time per event with a ${DELAY_MS} ms round trip, ours / web-push by hand, ${IN_FLIGHT} in flight (target ≤ 0.25)`,
          oursM,
          webPushM,
        ),
      ],
      notes: [
        `${BROWSERS} browsers with one registration each (one operation, one group; no batching), ${ROUNDS} rounds, sides alternating; ${DELAY_MS} ms added to every round trip by a TCP relay; the sender's default concurrency per origin over HTTP/2 (TLS, ALPN h2); web-push over HTTPS/1.1 keep-alive. ${IN_FLIGHT} in flight bounds web-push to ${((BROWSERS / IN_FLIGHT) * DELAY_MS) / 1000} s per event.`,
      ],
    };
  } finally {
    await proxy.stop();
    await bench.close();
  }
}
