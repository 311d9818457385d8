import { createServer, type Server, Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireRedis } from '../../test/support/redis.js';
import { deleteKeysWithPrefix, testPrefix } from '../store/redis-test-support.js';
import { createPubSub } from './create-pubsub.js';

beforeAll(() => requireRedis());

const MARKER = 'lose-this-reply';

/**
 * A TCP proxy in front of Redis that, once, forwards a command containing MARKER to Redis but
 * cuts the client's connection instead of returning Redis's reply: what happens to a publish when
 * Redis restarts or fails over between executing a command and answering it.
 */
async function startReplyLosingProxy(): Promise<{
  port: number;
  cuts: () => number;
  close(): Promise<void>;
}> {
  let cuts = 0;
  let armed = true;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    sockets.add(client);
    sockets.add(upstream);
    let dropNextReply = false;
    upstream.connect(6379, '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      if (armed && chunk.includes(MARKER)) {
        armed = false;
        dropNextReply = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropNextReply) {
        cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    cuts: () => cuts,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('createPubSub on Redis, when a reply is lost', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('stores a publish once although ioredis sends it again after reconnecting', async () => {
    const prefix = testPrefix('lost-reply');
    const proxy = await startReplyLosingProxy();
    const redis = new Redis({ port: proxy.port, host: '127.0.0.1', maxRetriesPerRequest: 5 });
    const direct = new Redis('redis://127.0.0.1:6379');
    const pubSub = createPubSub<{ tick: [payload: { n: number; note: string }] }>({
      redis,
      prefix,
    });
    cleanups.push(
      () => proxy.close(),
      async () => redis.disconnect(),
      async () => {
        await deleteKeysWithPrefix(direct, `{${prefix}}`);
        direct.disconnect();
      },
      () => pubSub.close(),
    );

    await pubSub.publish('tick', { n: 1, note: 'warm-up' });
    await pubSub.publish('tick', { n: 2, note: MARKER });
    await pubSub.publish('tick', { n: 3, note: 'after' });

    expect(proxy.cuts()).toBe(1);
    const entries = await direct.xrange(`{${prefix}}:tick`, '-', '+');
    expect(entries.map(([, fields]) => JSON.parse(fields[1] as string).n)).toEqual([1, 2, 3]);
  });
});

describe('createPubSub on Redis, what it leaves behind', () => {
  it('keeps publish ids in a few bucket keys, not one key per publish', async () => {
    const prefix = testPrefix('pub-keys');
    const redis = new Redis('redis://127.0.0.1:6379');
    const pubSub = createPubSub<{ tick: [id: string, payload: { n: number }] }>({ redis, prefix });
    try {
      await Promise.all(
        Array.from({ length: 2_000 }, (_, n) => pubSub.publish('tick', `t${n % 20}`, { n })),
      );
      const keys = await redis.keys(`{${prefix}}#pub:*`);
      expect(keys.length).toBeGreaterThanOrEqual(1);
      expect(keys.length).toBeLessThanOrEqual(2);
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(20_000);
      }
      expect(
        (await Promise.all(keys.map((key) => redis.hlen(key)))).reduce((a, b) => a + b, 0),
      ).toBe(2_000);
    } finally {
      await pubSub.close();
      await deleteKeysWithPrefix(redis, `{${prefix}}`);
      await redis.quit();
    }
  });
});
