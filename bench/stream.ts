import { compare, type Measurement, measurement, type SuiteResult } from './harness.js';
import { startBenchServer } from './stream-child.js';
import { measureLatencyRound, percentile } from './stream-latency.js';
import { measureIdleHeap } from './stream-memory.js';

const LATENCY_ROUNDS = 5;
const EVENTS = 200;
const MEMORY_ROUNDS = 3;
/** Per round and mode; 2,000 takes about twice as long and gives the same figures within 3 %. */
const IDLE = 1000;

/**
 * The resumable stream (`GET …/push/stream`) against Yoga's own SSE subscriptions, on the same
 * schema and server: Yoga with `useWebPush` and a memory store in a child process, the clients
 * here, real HTTP over loopback.
 * - publish → result latency, p50 and p99 per round: ticks published one at a time by the
 *   child (stamped with its clock), read here with the protocol's SSE parser; the offset
 *   between the two processes' clocks is measured over IPC each round.
 * - idle heap per open stream (a tab with one registration), and per open SSE subscription,
 *   measured in the server process after `global.gc()`, a fresh child per mode and round.
 */
export async function run(): Promise<SuiteResult> {
  const p50 = { stream: [] as number[], sse: [] as number[] };
  const p99 = { stream: [] as number[], sse: [] as number[] };
  const server = await startBenchServer();
  try {
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      const latencies = await measureLatencyRound(server, round, { events: EVENTS });
      for (const mode of ['stream', 'sse'] as const) {
        p50[mode].push(percentile(latencies[mode], 50));
        p99[mode].push(percentile(latencies[mode], 99));
      }
    }
  } finally {
    await server.stop();
  }

  const heap = { stream: [] as number[], sse: [] as number[] };
  for (let round = 0; round < MEMORY_ROUNDS; round++) {
    // Each mode has a child of its own and heap is counted per process, so the two can run at
    // once: the children's CPU sets the pace, and the machine has a core for each.
    const [stream, sse] = await Promise.all([
      measureIdleHeap('stream', IDLE),
      measureIdleHeap('sse', IDLE),
    ]);
    heap.stream.push(stream);
    heap.sse.push(sse);
  }

  const p50Stream = measurement('stream.latency.p50.stream', 'ms', p50.stream);
  const p50Sse = measurement('stream.latency.p50.yoga-sse', 'ms', p50.sse);
  const p99Stream = measurement('stream.latency.p99.stream', 'ms', p99.stream);
  const p99Sse = measurement('stream.latency.p99.yoga-sse', 'ms', p99.sse);
  const heapStream: Measurement & { note: string } = {
    ...measurement('stream.idle-heap.stream', 'bytes/stream', heap.stream),
    note: 'includes the registration behind the stream: a stream-mode registration still holds its own execution (Yoga context, subscription, runner) today',
  };
  const heapSse = measurement('stream.idle-heap.yoga-sse', 'bytes/subscription', heap.sse);
  return {
    suite: 'stream',
    measurements: [p50Stream, p50Sse, p99Stream, p99Sse, heapStream, heapSse],
    comparisons: [
      compare('publish → result latency p50, stream / Yoga SSE', p50Stream, p50Sse),
      compare('publish → result latency p99, stream / Yoga SSE', p99Stream, p99Sse),
      compare(
        'idle heap, per open stream (with its registration) / per SSE subscription',
        heapStream,
        heapSse,
      ),
    ],
    notes: [
      `Latency: ${LATENCY_ROUNDS} rounds × ${EVENTS} ticks per mode, one at a time, modes alternating tick by tick; figures are the medians of the per-round p50 and p99 (nearest rank).`,
      `Idle heap: ${MEMORY_ROUNDS} rounds × ${IDLE} subscribers per mode (each stream a tab with one registration), after 50 warm-up subscribers; heapUsed after global.gc() in the server process; every subscriber then received one tick.`,
    ],
  };
}
