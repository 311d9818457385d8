import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedisStore } from '../server/store/redis.js';
import { keysWithPrefix } from '../server/store/redis-test-support.js';
import type { GroupRecord, RegistrationRecord } from '../server/store/types.js';

/** Execution groups the registrations are spread over (one per product page). */
const GROUPS = 100;

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
  /** Per retained group message (stored once for all its members), the same two ways. */
  message: { keys: number; used: number };
}

/**
 * Stores `registrations` typical registrations (ten per tab, one push subscription, a session
 * cookie kept) in 100 execution groups (a 90-character document, one variable: one product page
 * each), then `messages` typical results in each group, measuring what each step adds. A group's
 * result is stored once, whatever its number of members.
 * @param redis - a client of a Redis nobody else writes to
 * @param registrations - how many registrations
 * @param messages - messages appended to each of the 100 groups
 * @returns bytes per registration and per retained group message
 */
export async function measureMemory(
  redis: Redis,
  registrations: number,
  messages: number,
): Promise<MemoryRound> {
  const prefix = `bench-${id(6)}`;
  const store = createRedisStore({ redis, prefix });
  const limits = { maxPerTab: 50, maxPerSubscription: registrations };
  const owner = `instance-${id(6)}`;
  const token = await store.heartbeat(owner, 60_000, Date.now());
  const groups: GroupRecord[] = [];
  for (let i = 0; i < GROUPS; i++) {
    groups.push({
      id: id(),
      key: id(32),
      query:
        'subscription StockChanged($productId: ID!) { stockChanged(productId: $productId) { id stock } }',
      operationName: 'StockChanged',
      variables: { productId: `p-${i}` },
      headers: { cookie: `session=${id(24)}` },
      createdAt: Date.now(),
      seq: 0,
      done: false,
      cursor: `${Date.now()}-0`,
      owner,
      token,
    });
  }
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
      groupId: (groups[i % GROUPS] as GroupRecord).id,
      base: 0,
      headers: { cookie: `session=${id(24)}` },
      createdAt: now,
      expiresAt: now + 60_000,
      seq: 0,
      ackedSeq: 0,
      done: false,
    });
  }

  const baseKeys = await keyBytes(redis, prefix);
  const baseUsed = await usedMemory(redis);
  for (const group of groups) await store.createGroup(group);
  for (const record of records) await store.createRegistration(record, limits);
  const withRegistrations = { keys: await keyBytes(redis, prefix), used: await usedMemory(redis) };

  const retention = { messageTtlMs: 86_400_000, maxMessages: 1000 };
  for (let seq = 1; seq <= messages; seq++) {
    for (const group of groups) {
      await store.appendGroupMessage(
        group.id,
        {
          type: 'next',
          payload: { data: { stockChanged: { id: 'p-7', stock: 40 + (seq % 50) } } },
        },
        retention,
        { token, cursor: `${Date.now()}-${seq}`, appendId: id(9) },
      );
    }
  }
  const withMessages = { keys: await keyBytes(redis, prefix), used: await usedMemory(redis) };
  const count = groups.length * messages;

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
