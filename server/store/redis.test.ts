import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Envelope, envelopeId } from '../../protocol/index.js';
import { randomId } from '../ids.js';
import { describeStoreContract } from './contract.js';
import { createRedisStore } from './redis.js';
import type { RedisClient, RedisScript } from './redis-script.js';
import * as scripts from './redis-scripts.js';
import {
  deleteKeysWithPrefix,
  keysWithPrefix,
  REDIS_URL,
  startTestCluster,
  type TestCluster,
  testPrefix,
} from './redis-test-support.js';
import type { RegistrationRecord, Store } from './types.js';

// ioredis's own slot function (a dependency of ioredis, without type declarations).
const calculateSlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

// Push subscriptions expire by Redis TTLs: real times.
const NOW = Date.now();
const TTL = 60_000;
const KEEP_ALL = { messageTtlMs: 3_600_000, maxMessages: 1000 };
const LIMITS = { maxPerTab: 50, maxPerSubscription: 200 };

const redis = new Redis(REDIS_URL);
let cluster: TestCluster;
let clusterClient: RedisClient;
const prefixes = new Map<Store, { client: RedisClient; prefix: string }>();

const peers = new Map<Store, Store>();

function makeStore(client: () => RedisClient) {
  return async () => {
    const prefix = testPrefix('store');
    const store = createRedisStore({ redis: client(), prefix });
    prefixes.set(store, { client: client(), prefix });
    return store;
  };
}

/** A second store on the same Redis and prefix: another server instance. */
async function makePeer(store: Store) {
  const entry = prefixes.get(store);
  if (!entry) throw new Error('unknown store');
  const peer = createRedisStore({ redis: entry.client, prefix: entry.prefix });
  peers.set(store, peer);
  return peer;
}

async function cleanup(store: Store) {
  await peers.get(store)?.close?.();
  peers.delete(store);
  await store.close?.();
  const entry = prefixes.get(store);
  if (entry) await deleteKeysWithPrefix(entry.client, entry.prefix);
  prefixes.delete(store);
}

beforeAll(async () => {
  cluster = await startTestCluster();
  clusterClient = cluster.connect();
});

afterAll(async () => {
  await clusterClient?.quit();
  await cluster?.stop();
  await redis.quit();
});

describeStoreContract(
  'redis',
  makeStore(() => redis),
  cleanup,
  makePeer,
);
describeStoreContract(
  'redis cluster',
  makeStore(() => clusterClient),
  cleanup,
  makePeer,
);

function registration(subscriptionId: string | null, overrides: Partial<RegistrationRecord> = {}) {
  return {
    id: randomId(),
    tabId: randomId(),
    subscriptionId,
    held: false,
    background: false,
    clientKey: null,
    operationKey: '7',
    query: 'subscription OnStock($id: ID!) { stock(productId: $id) { id count } }',
    operationName: 'OnStock',
    variables: { id: 'p-1' },
    headers: { authorization: 'Bearer abc' },
    createdAt: NOW,
    expiresAt: NOW + 60_000,
    seq: 0,
    ackedSeq: 0,
    done: false,
    cursor: null,
    ...overrides,
  } satisfies RegistrationRecord;
}

const next =
  (reg: RegistrationRecord, payload: unknown) =>
  (seq: number): Envelope => ({
    v: 1,
    id: envelopeId(reg.id, seq),
    tab: reg.tabId,
    reg: reg.id,
    seq,
    type: 'next',
    payload,
  });

describe('createRedisStore', () => {
  let prefix: string;
  const stores: Store[] = [];
  const open = (options: { prefix?: string } = {}) => {
    const store = createRedisStore({ redis, prefix: options.prefix ?? prefix });
    stores.push(store);
    return store;
  };
  const subscribe = (store: Store) =>
    store.putSubscription(
      { endpoint: `https://push.example/${randomId()}`, keys: { p256dh: 'BKey', auth: 'Auth' } },
      randomId(),
      NOW,
      TTL,
    );

  beforeAll(() => {
    prefix = testPrefix('redis');
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(stores.splice(0).map((store) => store.close?.()));
    await deleteKeysWithPrefix(redis, prefix);
  });

  it('gives every script call keys that hash to one cluster slot, for every script', async () => {
    const calls: { sha: string; keys: string[] }[] = [];
    for (const method of ['evalsha', 'eval'] as const) {
      const original = redis[method].bind(redis) as (...args: unknown[]) => Promise<unknown>;
      vi.spyOn(redis, method).mockImplementation(((...args: unknown[]) => {
        const [script, count, ...rest] = args as [string, number, ...string[]];
        const sha = method === 'evalsha' ? script : scriptByLua(script).sha;
        calls.push({ sha, keys: rest.slice(0, Number(count)) });
        return original(...args);
      }) as never);
    }
    const store = open();

    // Every operation, including replacing a subscription, limits, a move and expiry.
    const data = {
      endpoint: `https://push.example/${randomId()}`,
      keys: { p256dh: 'a', auth: 'b' },
    };
    const first = await store.putSubscription(data, randomId(), NOW, TTL);
    const same = await store.putSubscription(data, randomId(), NOW, TTL);
    const second = await store.putSubscription(
      { ...data, keys: { p256dh: 'c', auth: 'd' } },
      randomId(),
      NOW,
      TTL,
    );
    const other = await subscribe(store);
    const reg = registration(second.id);
    await store.createRegistration(reg, LIMITS);
    await store.createRegistration(registration(second.id, { tabId: reg.tabId }), {
      maxPerTab: 1,
      maxPerSubscription: 9,
    });
    await store.appendMessage(reg.id, next(reg, 1), KEEP_ALL, { cursor: '1-0' });
    await store.getMessages(reg.id, 0, 10);
    const token = await store.acquireLease(reg.id, 'a', 1000, NOW);
    await store.releaseLease(reg.id, 'a');
    await store.renew(reg.tabId, [{ registrationId: reg.id, ackedSeq: 1 }], NOW + 10, {
      hidden: true,
    });
    await store.move(reg.tabId, [reg.id], other.id, 9);
    await store.move(reg.tabId, [reg.id], null, 9);
    await store.getRegistration(reg.id);
    await store.getSubscription(other.id);
    await store.takeExpired(NOW + 10);
    const expiring = registration(other.id, { expiresAt: NOW + 5 });
    await store.createRegistration(expiring, LIMITS);
    await store.takeExpired(NOW + 5);
    await store.deleteRegistration(reg.id);
    await store.deleteSubscription(other.id);

    expect(token).toBe(1);
    expect(same.id).toBe(first.id);
    expect(first.id).not.toBe(second.id);
    const all = Object.values(scripts) as RedisScript[];
    expect(new Set(calls.map((call) => call.sha))).toEqual(
      new Set(all.map((script) => script.sha)),
    );
    for (const call of calls) {
      expect(new Set(call.keys.map(calculateSlot)).size, call.keys.join(' ')).toBe(1);
    }
  });

  it('gives 20 concurrent appends from two server instances the seqs 1..20, each once, in log order', async () => {
    const [a, b] = [open(), open()] as [Store, Store];
    const reg = registration((await subscribe(a)).id);
    await a.createRegistration(reg, LIMITS);

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        (n % 2 ? a : b).appendMessage(reg.id, next(reg, n), KEEP_ALL),
      ),
    );

    const seqs = results.map((result) => (result.ok ? result.envelope.seq : -1));
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, n) => n + 1));
    const log = await a.getMessages(reg.id, 0, 100);
    expect(log.map((envelope) => envelope.seq)).toEqual(
      Array.from({ length: 20 }, (_, n) => n + 1),
    );
    // Each envelope was built for the seq it got: payload n went out at the seq it was given.
    const bySeq = new Map(results.map((r, n) => [r.ok ? r.envelope.seq : -1, n]));
    expect(log.map((envelope) => envelope.payload)).toEqual(
      log.map((envelope) => bySeq.get(envelope.seq)),
    );
    expect(log.every((envelope) => envelope.id === envelopeId(reg.id, envelope.seq))).toBe(true);
    expect((await b.getRegistration(reg.id))?.seq).toBe(20);
  });

  it('refuses an append from the previous owner after another instance took the lease over', async () => {
    const [a, b] = [open(), open()] as [Store, Store];
    const reg = registration((await subscribe(a)).id);
    await a.createRegistration(reg, LIMITS);
    const oldToken = (await a.acquireLease(reg.id, 'instance-a', 1000, NOW)) as number;
    expect(
      await a.appendMessage(reg.id, next(reg, 'a1'), KEEP_ALL, {
        fencingToken: oldToken,
        cursor: '5-0',
      }),
    ).toMatchObject({ ok: true, envelope: { seq: 1 } });

    // instance-a stalls past its lease; instance-b adopts the registration.
    const newToken = (await b.acquireLease(reg.id, 'instance-b', 1000, NOW + 1000)) as number;
    const late = await a.appendMessage(reg.id, next(reg, 'a2'), KEEP_ALL, {
      fencingToken: oldToken,
      cursor: '6-0',
    });
    const adopted = await b.appendMessage(reg.id, next(reg, 'b2'), KEEP_ALL, {
      fencingToken: newToken,
      cursor: '7-0',
    });

    expect(newToken).toBe(oldToken + 1);
    expect(late).toEqual({ ok: false, reason: 'fenced' });
    expect(adopted).toMatchObject({ ok: true, envelope: { seq: 2, payload: 'b2' } });
    expect((await a.getMessages(reg.id, 0, 10)).map((e) => e.payload)).toEqual(['a1', 'b2']);
    expect(await a.getRegistration(reg.id)).toMatchObject({ seq: 2, cursor: '7-0' });
  });

  it('leaves no key of an expired registration behind once takeExpired took it', async () => {
    const store = open();
    const subscription = await subscribe(store);
    const reg = registration(subscription.id, { expiresAt: NOW + 100 });
    await store.createRegistration(reg, LIMITS);
    await store.acquireLease(reg.id, 'owner', 5000, NOW);
    for (let n = 0; n < 3; n++) await store.appendMessage(reg.id, next(reg, n), KEEP_ALL);
    await store.renew(reg.tabId, [{ registrationId: reg.id, ackedSeq: 1 }], NOW + 200);
    expect((await keysWithPrefix(redis, prefix)).length).toBeGreaterThan(2);

    const taken = await store.takeExpired(NOW + 200);

    expect(taken.map((record) => record.id)).toEqual([reg.id]);
    // Only the push subscription (pointer and record, its set now empty), each with a TTL, and
    // the index that counts subscriptions (trimmed by time as it is read).
    const left = await keysWithPrefix(redis, prefix);
    const tagged = [
      `${prefix}:{e:${subscription.id.slice(0, 22)}}`,
      `${prefix}:{e:${subscription.id.slice(0, 22)}}:${subscription.id}`,
    ];
    expect(left).toEqual([...tagged, `${prefix}:subscriptions`].sort());
    for (const key of tagged) expect(await redis.pttl(key)).toBeGreaterThan(0);
  });

  it('gives every push subscription key a TTL, and leaves none of them after deleting it', async () => {
    const store = open();
    const subscription = await subscribe(store);
    const regs = [];
    for (let n = 0; n < 3; n++) {
      const reg = registration(subscription.id);
      await store.createRegistration(reg, LIMITS);
      await store.appendMessage(reg.id, next(reg, n), KEEP_ALL);
      regs.push(reg);
    }
    const tagged = (await keysWithPrefix(redis, prefix)).filter((key) => key.includes('{e:'));
    expect(tagged).toHaveLength(3);
    for (const key of tagged) expect(await redis.pttl(key)).toBeGreaterThan(0);

    expect(await store.deleteSubscription(subscription.id)).toHaveLength(3);

    expect((await keysWithPrefix(redis, prefix)).filter((key) => key.includes('{e:'))).toEqual([]);
    for (const reg of regs) {
      expect((await store.getRegistration(reg.id))?.subscriptionId).toBeNull();
    }
  });

  it('keeps exactly maxPerSubscription registrations under concurrent inserts from many tabs', async () => {
    const store = open();
    const subscription = await subscribe(store);
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        store.createRegistration(registration(subscription.id), {
          maxPerTab: 5,
          maxPerSubscription: 5,
        }),
      ),
    );
    expect(results.filter((result) => result.ok)).toHaveLength(5);
    expect(
      results.filter((result) => !result.ok && result.reason === 'subscription-limit'),
    ).toHaveLength(7);
    expect(await store.listBySubscription(subscription.id)).toHaveLength(5);
    expect(
      await redis.scard(`${prefix}:{e:${subscription.id.slice(0, 22)}}:${subscription.id}:r`),
    ).toBe(5);
  });

  it('does not register on a subscription that is deleted at the same time', async () => {
    const store = open();
    for (let round = 0; round < 10; round++) {
      const subscription = await subscribe(store);
      const reg = registration(subscription.id);
      const [created, deleted] = await Promise.all([
        store.createRegistration(reg, LIMITS),
        store.deleteSubscription(subscription.id),
      ]);
      const stored = await store.getRegistration(reg.id);
      // Either the registration went in first and was put on the stream with the subscription's
      // end, or it was refused; never does it point at a deleted subscription.
      if (created.ok) {
        expect(stored?.subscriptionId).toBeNull();
        expect(deleted.map((record) => record.id)).toEqual([reg.id]);
      } else {
        expect(stored).toBeNull();
      }
    }
  });

  it('gives the same subscription to concurrent puts of one endpoint', async () => {
    const store = open();
    const data = {
      endpoint: `https://push.example/${randomId()}`,
      keys: { p256dh: 'k', auth: 'a' },
    };
    const records = await Promise.all(
      Array.from({ length: 8 }, () => store.putSubscription(data, randomId(), NOW, TTL)),
    );
    expect(new Set(records.map((record) => record.id)).size).toBe(1);
    // One record and one endpoint pointer (and the count's index): one put won the
    // compare-and-set.
    expect(await keysWithPrefix(redis, prefix)).toHaveLength(3);
    expect(await redis.zcard(`${prefix}:subscriptions`)).toBe(1);
  });

  it('finds the scripts again after the server forgot them (SCRIPT FLUSH)', async () => {
    const store = open();
    const reg = registration((await subscribe(store)).id);
    await store.createRegistration(reg, LIMITS);
    await redis.script('FLUSH');
    expect(await store.appendMessage(reg.id, next(reg, 1), KEEP_ALL)).toMatchObject({ ok: true });
  });

  it('closes only a client it created itself', async () => {
    const owned = createRedisStore({ redis: REDIS_URL, prefix });
    expect(await owned.getSubscription(randomId())).toBeNull();
    await owned.close?.();
    await open().close?.();
    expect(await redis.ping()).toBe('PONG');
  });

  it('refuses a prefix with hash-tag braces', () => {
    expect(() => createRedisStore({ redis, prefix: 'a{b}' })).toThrow(RangeError);
  });
});

function scriptByLua(lua: string): RedisScript {
  const found = (Object.values(scripts) as RedisScript[]).find((script) => script.lua === lua);
  if (!found) throw new Error('unknown script');
  return found;
}
