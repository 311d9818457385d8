import { mkdirSync } from 'node:fs';
import { checkPushes, startPushBench } from './push-bench.js';
import { registerTabs, subscribeBrowsers } from './push-browsers.js';
import type { EventCost } from './recording-sender.js';

/** What the fan-out is compared with, besides itself. */
export type Side = 'ours' | 'floor' | 'bare' | 'web-push';
export const SIDES: readonly Side[] = ['ours', 'floor', 'bare', 'web-push'];

/** What one run of a side cost; ours also says how its event went. */
interface SideCost {
  cpuUs: number;
  wallMs: number;
  pushes: number;
  failed: number;
  event?: EventCost;
}

/** Events before the measured rounds, after the set-up's garbage is collected. */
const WARM_UP_EVENTS = 5;

/** Events (and bare rounds) per profile, with `BENCH_PROFILE`. */
const PROFILED_EVENTS = 3;

/** Options of {@link measureFanout}. */
export interface FanoutOptions {
  /** HTTP/2 to a push service in secure mode, or HTTP/1.1 to a plain one. */
  transport: 'http2' | 'http1';
  browsers: number;
  tabs: number;
  rounds: number;
  /** web-push's requests in flight. */
  inFlight: number;
}

/** Per side and round: CPU per push (µs) and wall time (ms); and the events' shape. */
export interface FanoutSamples {
  cpu: Record<Side, number[]>;
  wall: Record<Side, number[]>;
  pushes: number[];
  bytes: number[];
  /** Ours per push, by thread (see `ThreadSplit`). */
  threads: { main: number[]; busiestOther: number[]; rest: number[] };
  registrations: number;
  profiles: string[];
}

/**
 * One transport: the push service, the server (own process) with `browsers × tabs`
 * registrations of one operation, then `rounds` rounds of the four sides in rotating order (the
 * baselines in a process of their own, see `push-bench.ts`).
 * With `BENCH_PROFILE=<dir>`, more events, bare rounds and a web-push round are profiled
 * afterwards (CPU and allocations, main thread only).
 * @param options - transport and sizes
 * @returns the samples
 */
export async function measureFanout(options: FanoutOptions): Promise<FanoutSamples> {
  const { transport, browsers, tabs, rounds, inFlight } = options;
  const bench = await startPushBench({ secure: transport === 'http2' });
  try {
    const subscriptions = await subscribeBrowsers(
      bench.service.wsUrl,
      bench.vapid.publicKey,
      browsers,
    );
    const registrations = await registerTabs(bench.url, subscriptions, tabs, 'p1');
    let stock = 0;
    // Warm-up: the first event also records the pushes the baselines send again. Registering
    // ten thousand tabs in a burst leaves the server's heap ~100 MB of garbage that a server in
    // its steady state does not carry: collected here at once, and not by V8's helper threads
    // in the middle of measured events (the first events after it also compile the hot path).
    // Their cost falls over the first four or five events, so the warm-up has five.
    await bench.collect();
    checkPushes('warm-up', await bench.publish('p1', ++stock, browsers, true), browsers);
    for (let i = 0; i < WARM_UP_EVENTS - 1; i++) {
      checkPushes('warm-up', await bench.publish('p1', ++stock, browsers), browsers);
    }
    checkPushes('warm-up', await bench.webPush(inFlight), browsers);
    checkPushes('warm-up', await bench.bare(256), browsers);
    await bench.floor();

    const empty = () =>
      ({ ours: [], floor: [], bare: [], 'web-push': [] }) as Record<Side, number[]>;
    const samples: FanoutSamples = {
      cpu: empty(),
      wall: empty(),
      pushes: [],
      bytes: [],
      threads: { main: [], busiestOther: [], rest: [] },
      registrations,
      profiles: [],
    };
    /** One run of a side; each is checked, whether it is measured or not. */
    const runSide = async (side: Side): Promise<SideCost> => {
      if (side === 'ours') {
        const before = bench.service.stats().accepted;
        const event = await bench.publish('p1', ++stock, browsers);
        checkPushes('event', event, browsers, bench.service.stats().accepted - before);
        return { ...event, event };
      }
      if (side === 'floor') return bench.floor();
      const cost = side === 'bare' ? await bench.bare(256) : await bench.webPush(inFlight);
      checkPushes(side, cost, browsers);
      return cost;
    };
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < SIDES.length; i++) {
        const side = SIDES[(round + i) % SIDES.length] as Side;
        const cost = await runSide(side);
        const { event } = cost;
        if (event !== undefined) {
          samples.pushes.push(event.pushes);
          samples.bytes.push(event.bytes / event.pushes);
          samples.threads.main.push(event.threads.main / event.pushes);
          samples.threads.busiestOther.push(event.threads.busiestOther / event.pushes);
          samples.threads.rest.push(event.threads.rest / event.pushes);
        }
        samples.cpu[side].push(cost.cpuUs / cost.pushes);
        samples.wall[side].push(cost.wallMs);
      }
    }

    const dir = process.env.BENCH_PROFILE;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      const events = async () => {
        for (let i = 0; i < PROFILED_EVENTS; i++) await bench.publish('p1', ++stock, browsers);
      };
      const bare = async () => {
        for (let i = 0; i < PROFILED_EVENTS; i++) await bench.bare(256);
      };
      samples.profiles.push(
        await bench.profile(dir, `fanout-${transport}-ours`, events),
        await bench.profile(dir, `fanout-${transport}-ours`, events, 'allocations'),
        await bench.profile(dir, `fanout-${transport}-bare`, bare, 'cpu', 'baselines'),
        await bench.profile(dir, `fanout-${transport}-bare`, bare, 'allocations', 'baselines'),
        await bench.profile(
          dir,
          `fanout-${transport}-web-push`,
          () => bench.webPush(inFlight),
          'cpu',
          'baselines',
        ),
      );
    }
    return samples;
  } finally {
    await bench.close();
  }
}
