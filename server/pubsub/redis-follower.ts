import type { Cluster, Redis } from 'ioredis';
import { backoffDelay, sleep } from '../../protocol/backoff.js';
import type { RedisClient } from '../store/redis-script.js';
import { compareEventIds } from './event-id.js';
import type { LoggedEvent, TopicReader } from './event-log.js';

/** Options of {@link createStreamFollower}. */
export interface StreamFollowerOptions {
  /** For `XRANGE` and `CLIENT UNBLOCK`; duplicated for the blocking reads. */
  redis: RedisClient;
  /**
   * Longest `XREAD BLOCK`; on a Cluster, also the longest wait before a new topic is read, and
   * the ceiling of the backoff after a failed read.
   */
  blockMs: number;
  /** Most entries per `XREAD`/`XRANGE` and per `read()`. */
  batchSize: number;
  /** Recent entries kept per stream for readers a little behind. */
  cacheSize: number;
  /** Turns a stream entry's fields into the payload. */
  decode: (fields: string[]) => unknown;
  /** Reports failed reads (they are retried). */
  onError: (error: unknown) => void;
  /** Name of the blocking connection in `CLIENT LIST` (single node only). */
  connectionName?: string;
}

/** Follows streams for many readers over one blocking connection. */
export interface StreamFollower {
  /** A reader of one stream key; the key is followed while a reader of it is open. */
  open(key: string): TopicReader;
  /** Closes every reader and the blocking connection. */
  close(): Promise<void>;
}

interface Waiter {
  after: string;
  resolve: (events: LoggedEvent[]) => void;
}

/** One followed stream, shared by its readers. */
interface Group {
  key: string;
  readers: number;
  /** Id of the last entry the blocking loop read; undefined until a reader first waits. */
  position: string | undefined;
  /** The entries right after `cacheFrom`, up to `position`, oldest first. */
  cache: LoggedEvent[];
  cacheFrom: string;
  waiters: Set<Waiter>;
}

type StreamEntries = [id: string, fields: string[]][];
type XReadReply = [key: string, entries: StreamEntries][] | null;

/**
 * The blocking side of the Redis pubsub: one `XREAD BLOCK` over every followed stream, on ONE
 * dedicated connection (a blocked connection can serve nothing else, so the caller's client
 * stays free for the store and for publishing).
 *
 * Readers pull: `read(after)` answers from the entries the loop already read (a small cache, or
 * `XRANGE` on the caller's client for a reader further behind), or waits for the loop's next
 * entries. So a slow subscriber costs Redis reads, never unbounded memory.
 *
 * A stream that gets its first waiter while the loop is blocked is added at once on a single
 * node (`CLIENT UNBLOCK` of the reading connection); on a Cluster it waits for the block to end
 * (`blockMs`). All keys of one `XREAD` must share a slot on a Cluster: the pubsub's keys share a
 * hash tag. The connection is opened when the first stream is followed and closed when the last
 * reader closes.
 *
 * @param options - see {@link StreamFollowerOptions}
 * @returns the follower
 */
export function createStreamFollower({
  redis,
  blockMs,
  batchSize,
  cacheSize,
  decode,
  onError,
  connectionName,
}: StreamFollowerOptions): StreamFollower {
  const groups = new Map<string, Group>();
  const readers = new Set<() => void>();
  let connection: RedisClient | undefined;
  let connectionId: number | undefined;
  /** The groups of the `XREAD` under way, if one is. */
  let inflight: Group[] | undefined;
  let running = false;
  let closed = false;
  /** Ends a backoff wait at once on close, so that no timer outlives the follower. */
  const stopped = new AbortController();

  const toEvents = (entries: StreamEntries): LoggedEvent[] =>
    entries.map(([id, fields]) => ({ id, payload: decode(fields) }));

  const connect = (): RedisClient => {
    if (connection) return connection;
    const created = redis.isCluster
      ? (redis as Cluster).duplicate()
      : (redis as Redis).duplicate(connectionName ? { connectionName } : {});
    // A reconnect gives the connection a new id; unknown until the loop asks again.
    created.on('close', () => {
      if (connection === created) connectionId = undefined;
    });
    created.on('error', onError);
    connection = created;
    return created;
  };

  const disconnect = (): void => {
    connection?.disconnect();
    connection = undefined;
    connectionId = undefined;
  };

  /** Makes a blocked `XREAD` return now, so the loop picks up a newly followed stream. */
  const wake = (): void => {
    const read = inflight;
    if (!read || redis.isCluster) return;
    const unblock = async (attempt: number): Promise<void> => {
      if (connectionId === undefined || inflight !== read) return;
      const unblocked = await redis.call('CLIENT', 'UNBLOCK', String(connectionId));
      // 0: the XREAD has not reached the server yet; try again while it is still the same read.
      if (unblocked === 0 && attempt < 20) {
        await sleep(5);
        await unblock(attempt + 1);
      }
    };
    unblock(0).catch(onError);
  };

  const deliver = (group: Group, events: LoggedEvent[]): void => {
    group.position = (events.at(-1) as LoggedEvent).id;
    group.cache.push(...events);
    if (group.cache.length > cacheSize) {
      const dropped = group.cache.splice(0, group.cache.length - cacheSize);
      group.cacheFrom = (dropped.at(-1) as LoggedEvent).id;
    }
    for (const waiter of group.waiters) {
      const mine = events.filter((event) => compareEventIds(event.id, waiter.after) > 0);
      if (mine.length > 0) {
        group.waiters.delete(waiter);
        waiter.resolve(mine);
      }
    }
  };

  const isFollowing = (): boolean =>
    [...groups.values()].some((group) => group.position !== undefined);

  const loop = async (): Promise<void> => {
    running = true;
    let failures = 0;
    try {
      for (;;) {
        if (closed || !isFollowing()) return;
        const client = connect();
        let followed: Group[];
        let reply: XReadReply;
        try {
          if (connectionId === undefined && !redis.isCluster) {
            connectionId = Number(await client.call('CLIENT', 'ID'));
          }
          // Taken after the await above, so that no stream followed meanwhile is left out.
          followed = [...groups.values()].filter((group) => group.position !== undefined);
          if (followed.length === 0) continue;
          inflight = followed;
          reply = (await client.xread(
            'COUNT',
            batchSize,
            'BLOCK',
            blockMs,
            'STREAMS',
            ...followed.map((group) => group.key),
            ...followed.map((group) => group.position as string),
          )) as XReadReply;
          failures = 0;
        } catch (error) {
          inflight = undefined;
          // A disconnect on purpose (last reader gone, close) rejects the read: not a failure.
          if (closed || client !== connection) continue;
          onError(error);
          failures += 1;
          // Jittered, so that the instances a Redis restart cut off do not all come back at once.
          await sleep(backoffDelay(failures, { baseMs: 100, maxMs: blockMs }), stopped.signal);
          continue;
        }
        inflight = undefined;
        for (const [key, entries] of reply ?? []) {
          const group = groups.get(key);
          // Skip a stream that was dropped (or dropped and followed anew) during the read.
          if (!group || !followed.includes(group)) continue;
          const events = toEvents(entries).filter(
            (event) => compareEventIds(event.id, group.position as string) > 0,
          );
          if (events.length > 0) deliver(group, events);
        }
      }
    } finally {
      running = false;
      inflight = undefined;
      disconnect();
    }
  };

  const follow = (group: Group, after: string): void => {
    if (group.position !== undefined) return;
    group.position = after;
    group.cacheFrom = after;
    if (running) wake();
    else loop().catch(onError);
  };

  const range = async (key: string, after: string, until: string): Promise<LoggedEvent[]> =>
    toEvents((await redis.xrange(key, `(${after}`, until, 'COUNT', batchSize)) as StreamEntries);

  return {
    open(key) {
      if (closed) return { read: async () => [], close: () => {} };
      let group = groups.get(key);
      if (!group) {
        group = {
          key,
          readers: 0,
          position: undefined,
          cache: [],
          cacheFrom: '0-0',
          waiters: new Set(),
        };
        groups.set(key, group);
      }
      const own = group;
      own.readers += 1;
      let isClosed = false;
      let waiter: Waiter | undefined;

      const close = (): void => {
        if (isClosed) return;
        isClosed = true;
        readers.delete(close);
        if (waiter) {
          own.waiters.delete(waiter);
          waiter.resolve([]);
        }
        own.readers -= 1;
        if (own.readers === 0 && groups.get(key) === own) groups.delete(key);
        // The last reader releases the blocking connection at once, not after blockMs.
        if (groups.size === 0) disconnect();
      };
      readers.add(close);

      return {
        async read(start) {
          let after = start;
          for (;;) {
            if (isClosed) return [];
            follow(own, after);
            const position = own.position as string;
            if (compareEventIds(position, after) <= 0) {
              return new Promise<LoggedEvent[]>((resolve) => {
                waiter = { after, resolve };
                own.waiters.add(waiter);
              });
            }
            if (compareEventIds(after, own.cacheFrom) >= 0) {
              const cached = own.cache.filter((event) => compareEventIds(event.id, after) > 0);
              if (cached.length > 0) return cached.slice(0, batchSize);
            }
            // Behind the cache: read what the loop already passed, up to where it is.
            const events = await range(key, after, position);
            if (isClosed) return [];
            if (events.length > 0) return events;
            // Entries up to `position` were trimmed away before this reader got them.
            after = position;
          }
        },
        close,
      };
    },

    async close() {
      closed = true;
      stopped.abort();
      for (const close of [...readers]) close();
      disconnect();
    },
  };
}
