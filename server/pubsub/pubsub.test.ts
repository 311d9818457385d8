import { filter, map, pipe } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireRedis } from '../../test/support/redis.js';
import type { RedisClient } from '../store/redis-script.js';
import {
  deleteKeysWithPrefix,
  REDIS_URL,
  startTestCluster,
  type TestCluster,
  testPrefix,
} from '../store/redis-test-support.js';
import { createPubSub, type PubSubOptions, type ReplayablePubSub } from './create-pubsub.js';
import { createCursorTracker, runWithEventCursor } from './cursor.js';
import { compareEventIds } from './event-id.js';

beforeAll(() => requireRedis({ binary: true }));

type Topics = {
  tick: [payload: number];
  stock: [productId: string, payload: { id: string; count: number }];
  empty: [];
};

const redis = new Redis(REDIS_URL);
let cluster: TestCluster;
let clusterClient: RedisClient;

beforeAll(async () => {
  cluster = await startTestCluster();
  clusterClient = cluster.connect();
});
afterAll(async () => {
  await clusterClient?.quit();
  await cluster?.stop();
  await redis.quit();
});

/** Next value of an iterator, failing fast instead of hanging. */
async function take<T>(iterator: AsyncIterator<T>, ms = 2_000): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([iterator.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function takeValues<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
  const values: T[] = [];
  for (let i = 0; i < count; i++) {
    const result = await take(iterator);
    if (result.done) throw new Error('ended early');
    values.push(result.value);
  }
  return values;
}

/** What each backend needs: a way to make pubsubs that share one event store. */
interface Backend {
  name: string;
  make(options?: PubSubOptions): ReplayablePubSub<Topics>;
  cleanup(): Promise<void>;
}

function memoryBackend(): Backend {
  return {
    name: 'memory',
    make: (options) => createPubSub<Topics>(options),
    cleanup: async () => {},
  };
}

function redisBackend(name: string, client: () => RedisClient): Backend {
  let prefix = testPrefix('pubsub');
  return {
    name,
    make: (options) => createPubSub<Topics>({ redis: client(), prefix, ...options }),
    async cleanup() {
      await deleteKeysWithPrefix(client(), `{${prefix}}`);
      prefix = testPrefix('pubsub');
    },
  };
}

const backends: Backend[] = [
  memoryBackend(),
  redisBackend('redis', () => redis),
  redisBackend('redis cluster', () => clusterClient),
];

for (const backend of backends) {
  describe(`createPubSub (${backend.name})`, () => {
    const opened: ReplayablePubSub<Topics>[] = [];
    const make = (options?: PubSubOptions) => {
      const pubSub = backend.make(options);
      opened.push(pubSub);
      return pubSub;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((pubSub) => pubSub.close()));
      await backend.cleanup();
    });

    it('delivers payloads published to a routing key, in order', async () => {
      const pubSub = make();
      const ticks = pubSub.subscribe('tick');
      const first = take(ticks);
      for (const n of [1, 2, 3]) await pubSub.publish('tick', n);
      expect(await first).toEqual({ value: 1, done: false });
      expect(await takeValues(ticks, 2)).toEqual([2, 3]);
      await ticks.return();
    });

    it('routes by id: `routingKey:id` reaches only that id’s subscribers', async () => {
      const pubSub = make();
      const p1 = pubSub.subscribe('stock', 'p1');
      const p2 = pubSub.subscribe('stock', 'p2');
      await pubSub.publish('stock', 'p2', { id: 'p2', count: 5 });
      await pubSub.publish('stock', 'p1', { id: 'p1', count: 1 });
      await pubSub.publish('stock', 'p1', { id: 'p1', count: 2 });
      expect(await takeValues(p1, 2)).toEqual([
        { id: 'p1', count: 1 },
        { id: 'p1', count: 2 },
      ]);
      expect(await takeValues(p2, 1)).toEqual([{ id: 'p2', count: 5 }]);
      await Promise.all([p1.return(), p2.return()]);
    });

    it('publishes null for a routing key without payload', async () => {
      const pubSub = make();
      const events = pubSub.subscribe('empty');
      await pubSub.publish('empty');
      expect(await take(events)).toEqual({ value: null, done: false });
      await events.return();
    });

    it('works with graphql-yoga’s pipe, filter and map', async () => {
      const pubSub = make();
      const evens = pipe(
        pubSub.subscribe('tick'),
        filter((n: number) => n % 2 === 0),
        map((n: number) => n * 10),
      );
      for (let n = 1; n <= 6; n++) await pubSub.publish('tick', n);
      expect(await takeValues(evens, 3)).toEqual([20, 40, 60]);
      await evens.return();
    });

    it('starts at the live end: events published before subscribe() are not delivered', async () => {
      const pubSub = make();
      await pubSub.publish('tick', 1);
      const ticks = pubSub.subscribe('tick');
      await pubSub.publish('tick', 2);
      expect(await takeValues(ticks, 1)).toEqual([2]);
      await ticks.return();
    });

    it('gives two subscribers the same events in the same order', async () => {
      const pubSub = make();
      const a = pubSub.subscribe('tick');
      const b = pubSub.subscribe('tick');
      for (let n = 1; n <= 5; n++) await pubSub.publish('tick', n);
      expect(await takeValues(a, 5)).toEqual([1, 2, 3, 4, 5]);
      expect(await takeValues(b, 5)).toEqual([1, 2, 3, 4, 5]);
      await Promise.all([a.return(), b.return()]);
    });

    it('ends the iterator on return(), also while a next() is waiting', async () => {
      const pubSub = make();
      const ticks = pubSub.subscribe('tick');
      const waiting = take(ticks);
      await ticks.return();
      expect(await waiting).toEqual({ value: undefined, done: true });
      expect(await take(ticks)).toEqual({ value: undefined, done: true });
      // Nothing is left listening: a publish afterwards reaches nobody and does not throw.
      await pubSub.publish('tick', 1);
    });

    it('ends every subscription on close(), and ones opened after it at once', async () => {
      const pubSub = make();
      const ticks = pubSub.subscribe('tick');
      const waiting = take(ticks);
      await pubSub.close();
      expect(await waiting).toEqual({ value: undefined, done: true });
      expect(await take(pubSub.subscribe('tick'))).toEqual({ value: undefined, done: true });
    });

    it('returns increasing event ids from publish', async () => {
      const pubSub = make();
      const ids = [];
      for (let n = 0; n < 5; n++) ids.push(await pubSub.publish('tick', n));
      expect([...ids].sort(compareEventIds)).toEqual(ids);
      expect(new Set(ids).size).toBe(5);
    });

    it('replays exactly the events after a cursor, in order, then continues live', async () => {
      const pubSub = make();
      const ids = [];
      for (let n = 1; n <= 5; n++) ids.push(await pubSub.publish('tick', n));
      const tracker = createCursorTracker(ids[1] as string);

      const ticks = runWithEventCursor(tracker, () => pubSub.subscribe('tick'));
      const replayed = await takeValues(ticks, 3);
      const live = pubSub.publish('tick', 6);
      const next = await takeValues(ticks, 1);

      expect(replayed).toEqual([3, 4, 5]);
      expect(next).toEqual([6]);
      expect(tracker.current).toBe(await live);
      await ticks.return();
    });

    it('records in the tracker the id of each event as it is pulled', async () => {
      const pubSub = make();
      const before = await pubSub.publish('tick', 0);
      const tracker = createCursorTracker(null);
      const ticks = runWithEventCursor(tracker, () => pubSub.subscribe('tick'));
      const first = take(ticks);
      const ids = [];
      for (let n = 1; n <= 3; n++) ids.push(await pubSub.publish('tick', n));

      await first;
      expect(tracker.current).toBe(ids[0]);
      await take(ticks);
      expect(tracker.current).toBe(ids[1]);
      await take(ticks);
      expect(tracker.current).toBe(ids[2]);
      expect(compareEventIds(before, ids[0] as string)).toBeLessThan(0);
      await ticks.return();
    });

    it('holds the live end as the cursor before any event, so a resume loses nothing', async () => {
      const pubSub = make();
      const last = await pubSub.publish('tick', 0);
      const tracker = createCursorTracker(null);
      const ticks = runWithEventCursor(tracker, () => pubSub.subscribe('tick'));
      const first = take(ticks);
      await pubSub.publish('tick', 1);
      await first;
      await ticks.return();
      // The tracker started at the event before subscribe(), then moved on.
      const resumed = runWithEventCursor(createCursorTracker(last), () => pubSub.subscribe('tick'));
      expect(await takeValues(resumed, 1)).toEqual([1]);
      await resumed.return();
    });

    it('does not pull ahead through a filter: the cursor is the last event the filter passed or dropped', async () => {
      const pubSub = make();
      const tracker = createCursorTracker(null);
      const evens = runWithEventCursor(tracker, () =>
        pipe(
          pubSub.subscribe('tick'),
          filter((n: number) => n % 2 === 0),
        ),
      );
      const first = take(evens);
      const ids = [];
      for (let n = 1; n <= 6; n++) ids.push(await pubSub.publish('tick', n));

      expect(await first).toEqual({ value: 2, done: false });
      expect(tracker.current).toBe(ids[1]);
      expect(await take(evens)).toEqual({ value: 4, done: false });
      expect(tracker.current).toBe(ids[3]);
      await evens.return();

      // An adopter resuming after 4 re-filters 5 and gets 6: nothing lost, nothing repeated.
      const resumed = runWithEventCursor(createCursorTracker(tracker.current), () =>
        pipe(
          pubSub.subscribe('tick'),
          filter((n: number) => n % 2 === 0),
        ),
      );
      expect(await takeValues(resumed, 1)).toEqual([6]);
      await resumed.return();
    });

    it('subscribes outside runWithEventCursor at the live end even when one is running elsewhere', async () => {
      const pubSub = make();
      const ids = [];
      for (let n = 1; n <= 2; n++) ids.push(await pubSub.publish('tick', n));
      const replaying = runWithEventCursor(createCursorTracker('0-0'), () =>
        pubSub.subscribe('tick'),
      );
      const live = pubSub.subscribe('tick');
      await pubSub.publish('tick', 3);
      expect(await takeValues(replaying, 3)).toEqual([1, 2, 3]);
      expect(await takeValues(live, 1)).toEqual([3]);
      await Promise.all([replaying.return(), live.return()]);
    });

    it('keeps at most about maxLen events per topic for replay', async () => {
      const pubSub = make({ maxLen: 3 });
      for (let n = 1; n <= 300; n++) await pubSub.publish('tick', n);
      const replay = runWithEventCursor(createCursorTracker('0-0'), () => pubSub.subscribe('tick'));
      const first = await take(replay);
      // Memory trims exactly; Redis trims whole stream nodes (`MAXLEN ~`, 100 entries a node).
      expect(first.value).toBeGreaterThan(backend.name === 'memory' ? 297 : 100);
      await replay.return();
    });
  });
}

describe('createPubSub on Redis', () => {
  let prefix: string;
  const opened: ReplayablePubSub<Topics>[] = [];
  const make = (options: PubSubOptions = {}) => {
    const pubSub = createPubSub<Topics>({ redis, prefix, ...options });
    opened.push(pubSub);
    return pubSub;
  };
  const readerConnections = async () =>
    String(await redis.call('CLIENT', 'LIST'))
      .split('\n')
      .filter((line) => line.includes(` name=${prefix}-events `));

  beforeAll(() => {
    prefix = testPrefix('pubsub');
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((pubSub) => pubSub.close()));
    await deleteKeysWithPrefix(redis, `{${prefix}}`);
  });

  it('lets another server instance resume after the cursor the first one recorded', async () => {
    const first = make();
    const tracker = createCursorTracker(null);
    const ticks = runWithEventCursor(tracker, () => first.subscribe('tick'));
    const pending = take(ticks);
    for (let n = 1; n <= 5; n++) await first.publish('tick', n);
    await pending;
    await take(ticks);
    await first.close(); // the first instance goes away after handling 1 and 2

    const second = make();
    const resumed = runWithEventCursor(createCursorTracker(tracker.current), () =>
      second.subscribe('tick'),
    );
    expect(await takeValues(resumed, 3)).toEqual([3, 4, 5]);
    await resumed.return();
  });

  it('reads on one dedicated connection and releases it when the last subscription returns', async () => {
    const pubSub = make({ blockMs: 30_000 });
    const a = pubSub.subscribe('tick');
    const b = pubSub.subscribe('stock', 'p1');
    const waiting = [take(a, 10_000), take(b, 10_000)];
    await expect.poll(readerConnections, { timeout: 2_000 }).toHaveLength(1);
    expect((await readerConnections())[0]).toContain('cmd=xread');

    await a.return();
    expect(await readerConnections()).toHaveLength(1);
    await b.return();
    await Promise.all(waiting);
    await expect.poll(readerConnections, { timeout: 2_000 }).toHaveLength(0);
  });

  it('adds a topic to a blocked read at once instead of after blockMs', async () => {
    // blockMs far beyond the test timeout: only an unblock can deliver in time.
    const pubSub = make({ blockMs: 60_000 });
    const ticks = pubSub.subscribe('tick');
    const waitingTick = take(ticks, 10_000);
    await expect.poll(readerConnections, { timeout: 2_000 }).toHaveLength(1);

    const stock = pubSub.subscribe('stock', 'p9');
    const waitingStock = take(stock, 3_000);
    await pubSub.publish('stock', 'p9', { id: 'p9', count: 9 });
    expect(await waitingStock).toEqual({ value: { id: 'p9', count: 9 }, done: false });
    await pubSub.publish('tick', 1);
    expect(await waitingTick).toEqual({ value: 1, done: false });
    await Promise.all([ticks.return(), stock.return()]);
  });

  it('serves a subscriber far behind from the stream, in order', async () => {
    const pubSub = make();
    const slow = pubSub.subscribe('tick');
    const fast = pubSub.subscribe('tick');
    const first = take(fast);
    for (let n = 1; n <= 450; n++) await pubSub.publish('tick', n);
    await first;
    await takeValues(fast, 449); // the loop reads ahead of `slow` by far more than its cache
    const values = await takeValues(slow, 450);
    expect(values).toEqual(Array.from({ length: 450 }, (_, n) => n + 1));
    await Promise.all([slow.return(), fast.return()]);
  });

  it('sets the stream TTL and trims with MAXLEN ~ on publish', async () => {
    const pubSub = make({ ttlMs: 5_000, maxLen: 10 });
    for (let n = 0; n < 1000; n++) await pubSub.publish('tick', n);
    const ttl = await redis.pttl(`{${prefix}}:tick`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
    expect(await redis.xlen(`{${prefix}}:tick`)).toBeLessThan(200);
  });

  it('delivers an entry that is not its JSON as null and keeps reading', async () => {
    const errors: unknown[] = [];
    const pubSub = make({ onError: (error) => errors.push(error) });
    const ticks = pubSub.subscribe('tick');
    const first = take(ticks);
    await redis.xadd(`{${prefix}}:tick`, '*', 'd', 'not json');
    await pubSub.publish('tick', 2);
    expect(await first).toEqual({ value: null, done: false });
    expect(await takeValues(ticks, 1)).toEqual([2]);
    expect(errors).toHaveLength(1);
    await ticks.return();
  });

  it('reports a failed publish to onError and rejects it', async () => {
    const errors: unknown[] = [];
    const broken = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false });
    const pubSub = createPubSub<Topics>({
      redis: broken,
      prefix,
      onError: (error) => errors.push(error),
    });
    await expect(pubSub.publish('tick', 1)).rejects.toThrow();
    expect(errors).toHaveLength(1);
    await pubSub.close();
    broken.disconnect();
  });
});
