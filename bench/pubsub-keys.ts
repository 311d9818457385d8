import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createPubSub } from '../server/index.js';
import { compare, measurement, median, type SuiteResult } from './harness.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const ROUNDS = 3;
const RATE = 2_000;
const WINDOW_MS = 10_000;
const TOPICS = 100;
/** Publishes awaited at most at once: past it the machine sets the rate, and it is reported. */
const MAX_IN_FLIGHT = 5_000;
const EXTRAPOLATE_TO = 10_000;

/**
 * The publish-id keys as `server/pubsub/redis-log.ts` names them (`publishIdsKey`:
 * `{<prefix>}#pub:<bucket>`); every key under the prefix is counted too, so that the suite still
 * says what lives there when the naming changes.
 */
const publishKeys = (prefix: string) => `{${prefix}}*#pub:*`;
const allKeys = (prefix: string) => `{${prefix}}*`;

/** What one round left in Redis. */
interface KeysRound {
  published: number;
  achievedRate: number;
  windowMs: number;
  /** `#pub:` keys alive right after the window. */
  liveKeys: number;
  /** Every key under the prefix (the topics' streams too). */
  keysUnderPrefix: number;
  /** `MEMORY USAGE` of a `#pub:` key, mean of a sample. */
  bytesPerKey: number;
  /** `MEMORY USAGE` of every `#pub:` key over the events published: what a publish costs. */
  bytesPerEvent: number;
  /** PTTL of a fresh `#pub:` key; `Infinity` when it has none, 0 when there is none. */
  lifetimeMs: number;
}

/**
 * Keys the Redis pubsub leaves per publish: publishes `RATE` events/s for `WINDOW_MS` over
 * `TOPICS` topics with `createPubSub({ redis })`, then counts the `#pub:` keys alive by `SCAN`,
 * reads a fresh key's TTL, and extrapolates to the steady state (every key living its whole
 * TTL) at 1k and 10k events/s. Each round has a prefix of its own, deleted afterwards.
 */
export async function run(): Promise<SuiteResult & { figures: Record<string, unknown> }> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const rounds: KeysRound[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) rounds.push(await measureRound(redis));
  } finally {
    await redis.quit();
  }

  const steady = rounds.map(steadyKeysPer1k);
  const per1k = median(steady);
  const bytesPerEvent = median(rounds.map((r) => r.bytesPerEvent));
  const lifetimeMs = median(rounds.map((r) => r.lifetimeMs));
  const published = measurement(
    'pubsub-keys.published-in-window',
    'events',
    rounds.map((r) => r.published),
  );
  const live = measurement(
    'pubsub-keys.live-after-window',
    'keys',
    rounds.map((r) => r.liveKeys),
  );
  return {
    suite: 'pubsub-keys',
    measurements: [
      measurement(
        'pubsub-keys.achieved-rate',
        'events/s',
        rounds.map((r) => r.achievedRate),
      ),
      published,
      live,
      measurement(
        'pubsub-keys.under-prefix-after-window',
        'keys',
        rounds.map((r) => r.keysUnderPrefix),
      ),
      measurement(
        'pubsub-keys.key-ttl',
        'ms',
        rounds.map((r) => r.lifetimeMs),
      ),
      measurement(
        'pubsub-keys.bytes-per-key',
        'bytes',
        rounds.map((r) => r.bytesPerKey),
      ),
      measurement(
        'pubsub-keys.bytes-per-event',
        'bytes',
        rounds.map((r) => r.bytesPerEvent),
      ),
      measurement('pubsub-keys.steady-live-keys-per-1k-events-per-second', 'keys', steady),
    ],
    comparisons: [
      compare('live #pub: keys after the window / events published in it', live, published),
    ],
    figures: {
      keyPattern: publishKeys('<prefix>'),
      liveKeysPer1kEventsPerSecond: finite(per1k),
      // What the window itself showed, before any extrapolation to the whole TTL.
      liveKeysPer1kEventsPerSecondAfterWindow: median(
        rounds.map((r) => r.liveKeys / (r.achievedRate / 1000)),
      ),
      // Publish ids live in a few bucket keys whatever the rate: the live key count does not
      // grow with it; their memory does, for as long as a bucket lives.
      liveKeysAfterWindow: median(rounds.map((r) => r.liveKeys)),
      bytesAt10kEventsPerSecond: finite(bytesPerEvent * EXTRAPOLATE_TO * (lifetimeMs / 1000)),
    },
    notes: [
      `${ROUNDS} rounds of ${RATE} events/s (target) for ${WINDOW_MS / 1000} s over ${TOPICS} topics, at most ${MAX_IN_FLIGHT} publishes in flight; Redis at ${REDIS_URL}.`,
      'Publish ids are kept in 10-second bucket hashes (at most three live keys at any rate); their memory grows with the rate for as long as a bucket lives (its TTL, 20 s at most). null: keys that never expire (unbounded).',
    ],
  };
}

/** JSON has no Infinity: keys that never expire read as `null`. */
const finite = (value: number): number | null => (Number.isFinite(value) ? value : null);

function steadyKeysPer1k(round: KeysRound): number {
  if (round.liveKeys === 0) return 0;
  // Bucket keys: a handful at any rate, so the count after the window is the steady state.
  if (round.liveKeys <= 3 || round.lifetimeMs <= round.windowMs) {
    return round.liveKeys / (round.achievedRate / 1000);
  }
  return (round.liveKeys / round.published) * 1000 * (round.lifetimeMs / 1000);
}

async function measureRound(redis: Redis): Promise<KeysRound> {
  const prefix = `bench-pubkeys-${randomBytes(6).toString('hex')}`;
  const pubSub = createPubSub<{ stock: [id: string, payload: { id: string; stock: number }] }>({
    redis,
    prefix,
    onError: () => {},
  });
  try {
    const { published, windowMs } = await publishAtRate((id, payload) =>
      pubSub.publish('stock', id, payload),
    );
    const keys = await scan(redis, publishKeys(prefix));
    const keysUnderPrefix = (await scan(redis, allKeys(prefix))).length;
    const sample = keys.slice(0, 50);
    const sizes = await Promise.all(
      sample.map(async (key) => Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'))),
    );
    const total =
      keys.length <= sample.length
        ? sizes.reduce((a, b) => a + b, 0)
        : (sizes.reduce((a, b) => a + b, 0) / sizes.length) * keys.length;
    return {
      published,
      achievedRate: published / (windowMs / 1000),
      windowMs,
      liveKeys: keys.length,
      keysUnderPrefix,
      bytesPerKey: sizes.length ? sizes.reduce((a, b) => a + b, 0) / sizes.length : 0,
      bytesPerEvent: published ? total / published : 0,
      lifetimeMs: await freshKeyLifetime(redis, prefix),
    };
  } finally {
    await pubSub.close();
    await removeUnder(redis, prefix);
  }
}

type Publish = (id: string, payload: { id: string; stock: number }) => Promise<string>;

/**
 * Publishes on a schedule: every few milliseconds, as many events as the rate owes by then,
 * not waiting for earlier ones unless `MAX_IN_FLIGHT` are outstanding.
 * @returns events published (all acknowledged) and the time until the last acknowledgement
 */
async function publishAtRate(publish: Publish): Promise<{ published: number; windowMs: number }> {
  const inFlight = new Set<Promise<unknown>>();
  let published = 0;
  const start = performance.now();
  for (;;) {
    const elapsed = performance.now() - start;
    if (elapsed >= WINDOW_MS) break;
    const owed = Math.floor((elapsed / 1000) * RATE);
    while (published < owed && inFlight.size < MAX_IN_FLIGHT) {
      const id = `p${published % TOPICS}`;
      const done = publish(id, { id, stock: published }).finally(() => inFlight.delete(done));
      inFlight.add(done);
      published += 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(inFlight);
  return { published, windowMs: performance.now() - start };
}

/** Keys matching `pattern`, by `SCAN` (never `KEYS`: Redis may be shared). */
async function scan(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  // SCAN may return a key twice while the keyspace is resized.
  return [...new Set(keys)];
}

/** Publishes one event under a prefix of its own and reads its key's TTL at once. */
async function freshKeyLifetime(redis: Redis, prefix: string): Promise<number> {
  const probe = `${prefix}-probe`;
  const pubSub = createPubSub({ redis, prefix: probe, onError: () => {} });
  try {
    await pubSub.publish('probe', null);
    const [key] = await scan(redis, publishKeys(probe));
    if (key === undefined) return 0;
    const ttl = await redis.pttl(key);
    return ttl < 0 ? Number.POSITIVE_INFINITY : ttl;
  } finally {
    await pubSub.close();
    await removeUnder(redis, probe);
  }
}

async function removeUnder(redis: Redis, prefix: string): Promise<void> {
  const keys = await scan(redis, allKeys(prefix));
  for (let at = 0; at < keys.length; at += 1000) await redis.unlink(...keys.slice(at, at + 1000));
}
