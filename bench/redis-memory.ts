import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { envelopeId } from '../protocol/index.js';
import { createRedisStore } from '../server/store/redis.js';
import { keysWithPrefix } from '../server/store/redis-test-support.js';
import type { RegistrationRecord } from '../server/store/types.js';

const id = (bytes = 24) => randomBytes(bytes).toString('base64url');

/** Bytes Redis's allocator holds (`INFO memory` `used_memory`). */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

/** Sum of `MEMORY USAGE … SAMPLES 0` over every key under `prefix:`. */
export async function keyBytes(redis: Redis, prefix: string): Promise<number> {
  let total = 0;
  for (const key of await keysWithPrefix(redis, prefix)) {
    total += Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
  }
  return total;
}

/** What one memory round measured. */
export interface MemoryRound {
  /** Per registration: by `MEMORY USAGE` over the keys, and by `used_memory`. */
  registration: { keys: number; used: number };
  /** Per retained message, the same two ways. */
  message: { keys: number; used: number };
}

/**
 * Stores `registrations` typical registrations (a 90-character document, one variable, a session
 * cookie, a cursor and a held lease; ten per tab, one push subscription), then `messages` typical
 * messages in each of the first 100, measuring what each step adds.
 * @param redis - a client of a Redis nobody else writes to
 * @param registrations - how many registrations
 * @param messages - messages appended to each of 100 registrations
 * @returns bytes per registration and per retained message
 */
export async function measureMemory(
  redis: Redis,
  registrations: number,
  messages: number,
): Promise<MemoryRound> {
  const prefix = `bench-${id(6)}`;
  const store = createRedisStore({ redis, prefix });
  const limits = { maxPerTab: 50, maxPerSubscription: registrations };
  const subscription = await store.putSubscription(
    {
      endpoint: `https://updates.push.services.mozilla.com/wpush/v2/${id(120)}`,
      keys: { p256dh: id(65), auth: id(16) },
    },
    id(),
    Date.now(),
    60_000,
  );
  const records: RegistrationRecord[] = [];
  let tabId = id(16);
  for (let i = 0; i < registrations; i++) {
    if (i % 10 === 0) tabId = id(16);
    const now = Date.now();
    records.push({
      id: id(),
      tabId,
      subscriptionId: subscription.id,
      held: false,
      background: false,
      clientKey: null,
      operationKey: String(1000 + i),
      query:
        'subscription StockChanged($productId: ID!) { stockChanged(productId: $productId) { id stock } }',
      operationName: 'StockChanged',
      variables: { productId: `p-${i % 100}` },
      headers: { cookie: `session=${id(24)}` },
      createdAt: now,
      expiresAt: now + 60_000,
      seq: 0,
      ackedSeq: 0,
      done: false,
      cursor: `${now}-0`,
    });
  }

  const baseKeys = await keyBytes(redis, prefix);
  const baseUsed = await usedMemory(redis);
  for (const record of records) {
    await store.createRegistration(record, limits);
    await store.acquireLease(record.id, `instance-${id(6)}`, 5_000, Date.now());
  }
  const withRegistrations = { keys: await keyBytes(redis, prefix), used: await usedMemory(redis) };

  const retention = { messageTtlMs: 86_400_000, maxMessages: 1000 };
  const logged = records.slice(0, 100);
  for (let seq = 1; seq <= messages; seq++) {
    for (const record of logged) {
      await store.appendMessage(
        record.id,
        (n) => ({
          v: 1,
          id: envelopeId(record.id, n),
          tab: record.tabId,
          reg: record.id,
          seq: n,
          type: 'next',
          payload: { data: { stockChanged: { id: 'p-7', stock: 40 + (n % 50) } } },
        }),
        retention,
        { cursor: `${Date.now()}-${seq}`, appendId: id(9) },
      );
    }
  }
  const withMessages = { keys: await keyBytes(redis, prefix), used: await usedMemory(redis) };
  const count = logged.length * messages;

  for (const key of await keysWithPrefix(redis, prefix)) await redis.del(key);
  return {
    registration: {
      keys: (withRegistrations.keys - baseKeys) / registrations,
      used: (withRegistrations.used - baseUsed) / registrations,
    },
    message: {
      keys: (withMessages.keys - withRegistrations.keys) / count,
      used: (withMessages.used - withRegistrations.used) / count,
    },
  };
}
