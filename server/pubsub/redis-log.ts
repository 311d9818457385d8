import { randomBytes } from 'node:crypto';
import { defineScript, type RedisClient, runScript } from '../store/redis-script.js';
import { FIRST_EVENT_ID } from './event-id.js';
import type { EventLog } from './event-log.js';
import { createStreamFollower } from './redis-follower.js';

/** Options of {@link createRedisEventLog}. */
export interface RedisEventLogOptions {
  redis: RedisClient;
  /** Hash tag of every stream key: `{prefix}:<topic>`. Must not contain `{` or `}`. */
  prefix: string;
  /** `XADD … MAXLEN ~ maxLen`: Redis trims whole nodes, so a stream may keep a few more. */
  maxLen: number;
  /** Each publish sets the stream's TTL to this, so topics nobody publishes to go away. */
  ttlMs: number;
  blockMs: number;
  batchSize: number;
  cacheSize: number;
  onError: (error: unknown) => void;
}

/** The stream entry field that holds the payload JSON. */
const DATA_FIELD = 'd';

/**
 * How long a publish id is remembered, at least. ioredis resends a command whose reply was lost
 * when the connection drops (a Redis restart or failover) as soon as it has reconnected, which is
 * within seconds.
 */
const PUBLISH_ID_TTL_MS = 10_000;

/**
 * Publish ids are kept in one hash per 10-second bucket (not one key per publish: at 10k
 * publishes a second that was 600k live keys), each expiring 10 s after its bucket ends; a publish
 * looks in its bucket and the one before. Live keys: three at most, whatever the rate; memory
 * about 100 bytes per publish of the last 10 to 20 s.
 */
const BUCKET_MS = 10_000;

/**
 * XADD at most once per publish id: KEYS = stream, this bucket's ids, the previous bucket's;
 * ARGV = maxLen, ttlMs, payload JSON, publish id, bucket TTL. Without it, a publish whose reply
 * was lost in a Redis restart is appended twice and every subscriber sees the event twice.
 */
const APPEND_ONCE = defineScript(
  'pubsub-append-once',
  3,
  `local seen = redis.call('HGET', KEYS[2], ARGV[4]) or redis.call('HGET', KEYS[3], ARGV[4])
if seen then return seen end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', '${DATA_FIELD}', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[4], id)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return id`,
);

/** Key of the publish-id bucket `index` under `prefix` (the streams' hash tag). */
export const publishIdsKey = (prefix: string, index: number): string => `{${prefix}}#pub:${index}`;

/**
 * An {@link EventLog} on Redis Streams: one stream per topic, ids assigned by Redis, durable
 * across server restarts for as long as the stream keeps the entries.
 * @param options - see {@link RedisEventLogOptions}
 * @returns the log
 * @remarks Payloads travel as JSON: what `JSON.stringify` drops or changes (undefined, Date,
 * Map) arrives that way; `undefined` arrives as `null`. All streams share the hash tag `{prefix}`
 * so that one `XREAD` can follow them all on a Cluster (they live on one node).
 */
export function createRedisEventLog({
  redis,
  prefix,
  maxLen,
  ttlMs,
  blockMs,
  batchSize,
  cacheSize,
  onError,
}: RedisEventLogOptions): EventLog {
  if (/[{}]/.test(prefix))
    throw new RangeError(`pubsub prefix must not contain "{" or "}": ${prefix}`);
  const key = (topic: string) => `{${prefix}}:${topic}`;
  const follower = createStreamFollower({
    redis,
    blockMs,
    batchSize,
    cacheSize,
    onError,
    connectionName: `${prefix}-events`.replace(/[^\w:-]/g, '_'),
    decode: (fields) => {
      const index = fields.indexOf(DATA_FIELD);
      const json = index >= 0 ? fields[index + 1] : undefined;
      try {
        return json === undefined ? null : JSON.parse(json);
      } catch (error) {
        // Someone else's entry in our stream: reported, delivered as null, never a stalled loop.
        onError(error);
        return null;
      }
    },
  });

  return {
    async append(topic, payload) {
      // The buckets live under the same hash tag as the streams, so the script runs on a
      // Cluster; a retry of this call by ioredis carries the same id and keys, and appends nothing.
      const publishId = randomBytes(12).toString('base64url');
      const bucket = Math.floor(Date.now() / BUCKET_MS);
      const id = await runScript(
        redis,
        APPEND_ONCE,
        [key(topic), publishIdsKey(prefix, bucket), publishIdsKey(prefix, bucket - 1)],
        [maxLen, ttlMs, JSON.stringify(payload ?? null), publishId, BUCKET_MS + PUBLISH_ID_TTL_MS],
      );
      return String(id);
    },

    async head(topic) {
      const [last] = await redis.xrevrange(key(topic), '+', '-', 'COUNT', 1);
      return last?.[0] ?? FIRST_EVENT_ID;
    },

    open: (topic) => follower.open(key(topic)),
    close: () => follower.close(),
  };
}
