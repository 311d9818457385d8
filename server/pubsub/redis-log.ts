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
 * How long a publish id is remembered. ioredis resends a command whose reply was lost when the
 * connection drops (a Redis restart or failover); the resend comes within seconds of the
 * reconnect, so a minute covers it with room to spare.
 */
const PUBLISH_ID_TTL_MS = 60_000;

/**
 * XADD at most once per publish id: KEYS = stream, publish-id key; ARGV = maxLen, ttlMs, payload
 * JSON, id TTL. Without it, a publish whose reply was lost in a Redis restart is appended twice
 * and every subscriber sees the event twice.
 */
const APPEND_ONCE = defineScript(
  'pubsub-append-once',
  2,
  `local seen = redis.call('GET', KEYS[2])
if seen then return seen end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', '${DATA_FIELD}', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], id, 'PX', ARGV[4])
return id`,
);

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
      // The publish id lives under the same hash tag as the stream, so the script runs on a
      // Cluster; a retry of this call by ioredis carries the same id and appends nothing.
      const publishKey = `{${prefix}}#pub:${randomBytes(12).toString('base64url')}`;
      const id = await runScript(
        redis,
        APPEND_ONCE,
        [key(topic), publishKey],
        [maxLen, ttlMs, JSON.stringify(payload ?? null), PUBLISH_ID_TTL_MS],
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
