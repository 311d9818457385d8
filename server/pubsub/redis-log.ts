import type { RedisClient } from '../store/redis-script.js';
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
      const stream = key(topic);
      const replies = await redis
        .multi()
        .xadd(stream, 'MAXLEN', '~', maxLen, '*', DATA_FIELD, JSON.stringify(payload ?? null))
        .pexpire(stream, ttlMs)
        .exec();
      const [error, id] = replies?.[0] ?? [new Error('XADD got no reply')];
      if (error) throw error;
      return id as string;
    },

    async head(topic) {
      const [last] = await redis.xrevrange(key(topic), '+', '-', 'COUNT', 1);
      return last?.[0] ?? FIRST_EVENT_ID;
    },

    open: (topic) => follower.open(key(topic)),
    close: () => follower.close(),
  };
}
