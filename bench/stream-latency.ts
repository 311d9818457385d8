import { type BenchServer, clockMs } from './stream-child.js';
import { type Mode, subscribe, type Tick } from './stream-modes.js';

/** Latencies of one round, in milliseconds, per mode. */
export type LatencyRound = Record<Mode, number[]>;

const MODES: readonly Mode[] = ['stream', 'sse'];

/**
 * The `p`-th percentile (0–100) by the nearest-rank method.
 * @param values - the samples
 * @param p - the percentile
 * @returns the smallest sample with at least `p` % of the samples at or below it
 */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** One subscriber's ticks: `expect(n)` resolves with tick `n`'s latency, or rejects after `timeoutMs`. */
interface Waiter {
  expect(n: number, timeoutMs: number): Promise<number>;
  onTick(tick: Tick): void;
}

/**
 * Turns ticks into latencies on one clock: arrival here minus the child's publish stamp,
 * corrected by the measured offset between the two clocks.
 */
function createWaiter(offsetMs: number): Waiter {
  let pending: { n: number; resolve(latencyMs: number): void } | undefined;
  return {
    expect(n, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`bench: tick ${n} never arrived`)),
          timeoutMs,
        );
        pending = {
          n,
          resolve: (latencyMs) => {
            clearTimeout(timer);
            resolve(latencyMs);
          },
        };
      });
    },
    onTick(tick) {
      const arrived = clockMs();
      if (pending?.n !== tick.n) return;
      const { resolve } = pending;
      pending = undefined;
      resolve(arrived - (tick.publishedAt - offsetMs));
    },
  };
}

/**
 * One round: a subscriber per mode on topics of their own, then `events` ticks per mode, each
 * published (by the child, on request) only after the previous one arrived, modes alternating
 * tick by tick so that load on the machine falls on both alike.
 * @param server - the child server
 * @param round - names this round's topics
 * @param events - measured ticks per mode
 * @param warmup - ticks per mode before measuring (the first also proves the subscription live)
 * @returns publish → result latency per tick, per mode
 */
export async function measureLatencyRound(
  server: BenchServer,
  round: number,
  { events = 200, warmup = 20 } = {},
): Promise<LatencyRound> {
  const { offsetMs } = await server.clockOffset();
  const waiters = { stream: createWaiter(offsetMs), sse: createWaiter(offsetMs) };
  const topic = (mode: Mode) => `${mode}-${round}`;
  const subscribers = await Promise.all(
    MODES.map((mode) => subscribe(mode, server.url, topic(mode), waiters[mode].onTick)),
  );
  let n = 0;
  const tick = (mode: Mode, timeoutMs = 5_000): Promise<number> => {
    n += 1;
    const arrived = waiters[mode].expect(n, timeoutMs);
    server.tell('publish', { topic: topic(mode), n });
    return arrived;
  };
  try {
    for (const mode of MODES) {
      // A subscription's source may start listening only once its stream is first read.
      for (let tries = 0; ; tries++) {
        try {
          await tick(mode, 200);
          break;
        } catch (error) {
          if (tries >= 25) throw error;
        }
      }
      for (let i = 0; i < warmup; i++) await tick(mode);
    }
    const latencies: LatencyRound = { stream: [], sse: [] };
    for (let i = 0; i < events; i++) {
      // Which mode goes first alternates by round too.
      for (const mode of round % 2 ? [...MODES].reverse() : MODES) {
        latencies[mode].push(await tick(mode));
      }
    }
    return latencies;
  } finally {
    for (const subscriber of subscribers) subscriber.close();
  }
}
