import { Redis } from 'ioredis';
import { startRedisServer } from '../test/cluster/processes.js';
import { measurement, type SuiteResult } from './harness.js';
import { measureAdoption } from './redis-adoption.js';
import { measureCommands } from './redis-commands.js';
import { measureIdle } from './redis-idle.js';
import { measureMemory } from './redis-memory.js';

const ROUNDS = 3;

/**
 * What the plugin costs Redis and how fast instances take over, on a `redis-server` of its own
 * (so that `INFO` sees nothing else):
 * - bytes per registration and per retained message, by `MEMORY USAGE` summed over the keys and
 *   by `used_memory` before and after;
 * - Redis commands per delivered message, around 250 events delivered to 20 registrations
 *   through the link: the commands the server sent (round trips), and those Redis executed
 *   (`INFO commandstats`, which counts what Lua scripts call too); and the commands sent per
 *   second and registration with no events while the tabs renew every second;
 * - idle: round trips per second an instance sends for 2,000 idle registrations with nobody
 *   renewing (its own heartbeat and scans: per instance, not per registration), and round trips
 *   per registration of one renewal;
 * - time until a surviving instance owns every registration of one killed with `kill -9`, and of
 *   one stopped with SIGTERM (graceful hand-over), with the default 5 s lease.
 */
export async function run(): Promise<SuiteResult> {
  const server = await startRedisServer();
  const redis = new Redis(server.url);
  try {
    const memory = [];
    for (let round = 0; round < ROUNDS; round++) memory.push(await measureMemory(redis, 1000, 50));

    const commands = [];
    for (let round = 0; round < ROUNDS; round++) commands.push(await measureCommands(server.url));

    const idle = [];
    for (let round = 0; round < ROUNDS; round++) idle.push(await measureIdle(server.url));

    const adoption = await measureAdoption(server.url, { rounds: ROUNDS });

    const last = commands.at(-1);
    return {
      suite: 'redis',
      measurements: [
        measurement(
          'redis.registration.memory-usage',
          'bytes/registration',
          memory.map((m) => m.registration.keys),
        ),
        measurement(
          'redis.registration.used-memory',
          'bytes/registration',
          memory.map((m) => m.registration.used),
        ),
        measurement(
          'redis.retained-message.memory-usage',
          'bytes/message',
          memory.map((m) => m.message.keys),
        ),
        measurement(
          'redis.retained-message.used-memory',
          'bytes/message',
          memory.map((m) => m.message.used),
        ),
        measurement(
          'redis.commands-per-delivered-message',
          'commands/message',
          commands.map((c) => c.sent / c.deliveries),
        ),
        measurement(
          'redis.commands-executed-per-delivered-message',
          'commands/message',
          commands.map((c) => c.commands / c.deliveries),
        ),
        measurement(
          'redis.idle-round-trips-per-registration',
          'round trips/s/registration',
          idle.map((i) => i.idlePerSecond / i.registrations),
        ),
        measurement(
          'redis.idle-round-trips-per-instance',
          'round trips/s',
          idle.map((i) => i.idlePerSecond),
        ),
        measurement(
          'redis.renewal-round-trips-per-registration',
          'round trips/renewal',
          idle.map((i) => i.perRenewedRegistration),
        ),
        measurement(
          'redis.round-trips-per-registration.tabs-renewing-every-second',
          'round trips/s/registration',
          commands.map((c) => c.idlePerSecond / c.registrations),
        ),
        measurement(
          'adopt.after-kill',
          'ms',
          adoption.map((a) => a.killMs),
        ),
        measurement(
          'adopt.after-sigterm',
          'ms',
          adoption.map((a) => a.terminateMs),
        ),
      ],
      comparisons: [],
      notes: [
        'Memory: 1000 registrations (10 per tab, a session cookie kept) in 100 execution groups (90-character document, one variable, a cursor), then 50 results appended to each group (stored once per group; about 60 bytes of result JSON each).',
        `Commands: ${last?.deliveries} deliveries to ${last?.registrations} registrations; commands executed in the last round (INFO commandstats, script calls included): ${JSON.stringify(last?.byCommand)}.`,
        `Idle: ${idle.at(-1)?.registrations} registrations on the stream (tabs of 10, 10 operations) on one instance, 10 s with no event and no renewal: what the instance sends by itself (heartbeat, orphan and expiry scans), whatever the number of registrations; executed: ${JSON.stringify(idle.at(-1)?.idleByCommand)}. Renewal: one POST …/renew per tab; the client renews every registrationTtlMs / 3 (20 s by default), so a live tab adds renewal-round-trips-per-registration / 20 per second.`,
        'Adoption: 50 registrations in 5 groups per instance; instance lease 5000 ms; the lease left at the kill (it is renewed every third of its TTL) dominates.',
      ],
    };
  } finally {
    await redis.quit();
    await server.stop();
  }
}
