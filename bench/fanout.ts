import { type FanoutOptions, measureFanout } from './fanout-round.js';
import {
  type Comparison,
  compare,
  type Measurement,
  measurement,
  type SuiteResult,
} from './harness.js';

const SIZES = { browsers: 1000, tabs: 10, rounds: 7, inFlight: 50 };

const TRANSPORTS = [
  ['http2', 'HTTP/2 to the push service in secure mode, as to FCM, autopush, APNs and WNS'],
  ['http1', 'HTTP/1.1 keep-alive to the plain push service'],
] as const;

/**
 * Fan-out: one event to 10,000 registrations of one operation (1,000 browsers × 10 tabs, every
 * tab one registration; one execution group, one push per browser), the server in a process of
 * its own, the push service and the browsers (offline: the service stores what it accepts) here.
 * Per round, in rotating order, on the same 1,000 pushes; ours in the server's process, the three
 * baselines in a second process with the same code and options, so that no side pays for
 * another's garbage (a `web-push` round leaves plenty):
 * - ours: the server's CPU time (`process.cpuUsage`, every thread, the encryption worker
 *   included) from the publish until the last push was answered (the push service counts them);
 * - the encryption floor: the same plaintexts for the same subscriptions encrypted alone, RFC 8291
 *   with node:crypto, no VAPID, no HTTP;
 * - bare: the floor plus one bare POST each with Node's HTTP, 256 in flight (`bare-send.ts`),
 *   what no sender can go below with node:http2 / node:http;
 * - `web-push` by hand: `generateRequestDetails` and a keep-alive agent, 50 in flight.
 * Twice: over HTTP/2 (the production path: web-push speaks HTTPS/1.1 there) and over HTTP/1.1;
 * `BENCH_FANOUT_TRANSPORTS=http2` (or `http1`) runs one.
 */
export async function run(): Promise<SuiteResult> {
  const measurements: Measurement[] = [];
  const comparisons: Comparison[] = [];
  const notes: string[] = [];
  const only = process.env.BENCH_FANOUT_TRANSPORTS?.split(',');
  for (const [transport, description] of TRANSPORTS) {
    if (only !== undefined && !only.includes(transport)) continue;
    const options: FanoutOptions = { transport, ...SIZES };
    const samples = await measureFanout(options);
    const name = (what: string) => `fanout.${transport}.${what}`;
    const ours = measurement(name('cpu-per-push.ours'), 'µs/push', samples.cpu.ours);
    const floor = measurement(name('cpu-per-push.encryption-floor'), 'µs/push', samples.cpu.floor);
    const bare = measurement(name('cpu-per-push.bare-http'), 'µs/push', samples.cpu.bare);
    const webPush = measurement(
      name('cpu-per-push.web-push-by-hand'),
      'µs/push',
      samples.cpu['web-push'],
    );
    const perRound = (baseline: number[]) =>
      samples.cpu.ours.map((value, round) => value / (baseline[round] as number));
    measurements.push(
      ours,
      floor,
      bare,
      webPush,
      measurement(name('cpu-per-push.ours.main-thread'), 'µs/push', samples.threads.main),
      measurement(
        name('cpu-per-push.ours.busiest-other-thread'),
        'µs/push',
        samples.threads.busiestOther,
      ),
      measurement(name('cpu-per-push.ours.other-threads'), 'µs/push', samples.threads.rest),
      measurement(name('cpu-ours-over-floor.per-round'), 'ratio', perRound(samples.cpu.floor)),
      measurement(
        name('cpu-ours-over-web-push.per-round'),
        'ratio',
        perRound(samples.cpu['web-push']),
      ),
      measurement(name('pushes-per-event'), 'pushes', samples.pushes),
      measurement(name('plaintext-per-push'), 'bytes', samples.bytes),
      measurement(name('wall-per-event.ours'), 'ms', samples.wall.ours),
      measurement(name('wall-per-event.web-push-by-hand'), 'ms', samples.wall['web-push']),
    );
    comparisons.push(
      compare(
        `${transport}: server CPU per push, ours / encryption floor (target ≤ 1.5)`,
        ours,
        floor,
      ),
      compare(
        `${transport}: server CPU per push, ours / web-push by hand (target ≤ 0.33)`,
        ours,
        webPush,
      ),
      compare(`${transport}: server CPU per push, bare HTTP / encryption floor`, bare, floor),
      compare(`${transport}: server CPU per push, ours / bare HTTP`, ours, bare),
    );
    notes.push(
      `${transport}: ${description}; ${samples.registrations} registrations (${options.browsers} browsers × ${options.tabs} tabs), ${options.rounds} rounds of ours, floor, bare (256 in flight) and web-push (${options.inFlight} in flight) in rotating order; the baselines in a process of their own.`,
    );
    if (samples.profiles.length > 0) {
      notes.push(
        `${transport}: profiles (server process, main thread): ${samples.profiles.join(', ')}.`,
      );
    }
  }
  notes.push(
    'CPU: process.cpuUsage of the server process (all threads: the sender’s encryption worker, V8’s GC helpers) from the publish until the last push was answered. The push service (a VAPID check per request, storage) and the browsers run in the parent process on the same two cores.',
  );
  return { suite: 'fanout', measurements, comparisons, notes };
}
