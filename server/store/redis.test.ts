import { createRequire } from 'node:module';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireRedis } from '../../test/support/redis.js';
import { randomId } from '../ids.js';
import { describeStoreContract } from './contract.js';
import { createRedisStore } from './redis.js';
import { type RedisClient, type RedisScript, runScript } from './redis-script.js';
import * as scripts from './redis-scripts.js';
import {
  deleteKeysWithPrefix,
  keysWithPrefix,
  REDIS_URL,
  startTestCluster,
  type TestCluster,
  testPrefix,
} from './redis-test-support.js';
import { NOW, next, testGroup, testRegistration } from './test-records.js';
import type { GroupRecord, RegistrationRecord, Store } from './types.js';

// ioredis's own slot function (a dependency of ioredis, without type declarations).
const calculateSlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

// Push subscriptions expire by Redis TTLs: real times.
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

beforeAll(() => requireRedis({ binary: true }));
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

const registration = testRegistration;
const group = testGroup;

describe('createRedisStore', () => {
  let prefix: string;
  const stores: Store[] = [];
  const open = (options: { prefix?: string; redis?: RedisClient } = {}) => {
    const store = createRedisStore({
      redis: options.redis ?? redis,
      prefix: options.prefix ?? prefix,
    });
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
  /** An instance with a live lease and one group it owns. */
  const owned = async (store: Store, overrides: Partial<GroupRecord> = {}) => {
    const owner = `instance-${randomId()}`;
    const token = await store.heartbeat(owner, 3_600_000, NOW);
    const record = group(owner, token, overrides);
    await store.createGroup(record);
    return { owner, token, group: record };
  };
  const key = (suffix: string) => `${prefix}:${suffix}`;

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

    // Every operation, including replacing a subscription, limits, a move, expiry and a claim.
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
    const dying = `instance-${randomId()}`;
    const dyingToken = await store.heartbeat(dying, 1_000, NOW);
    const shared = group(dying, dyingToken);
    await store.createGroup(shared);
    const reg = registration(second.id, shared.id);
    await store.createRegistration(reg, LIMITS);
    await store.createRegistration(registration(second.id, shared.id, { tabId: reg.tabId }), {
      maxPerTab: 1,
      maxPerSubscription: 9,
    });
    await store.appendGroupMessage(shared.id, next(1), KEEP_ALL, {
      token: dyingToken,
      cursor: '1-0',
    });
    await store.getMessages(reg.id, 0, 10);
    await store.renew(reg.tabId, [{ registrationId: reg.id, ackedSeq: 1 }], NOW + 10, {
      hidden: true,
    });
    await store.move(reg.tabId, [reg.id], other.id, 9);
    await store.move(reg.tabId, [reg.id], null, 9);
    await store.getRegistration(reg.id);
    await store.getSubscription(other.id);
    await store.listMembers(shared.id);
    const [orphan] = await store.listOrphans(NOW + 1_000, 10);
    const adopter = `instance-${randomId()}`;
    const adopterToken = await store.heartbeat(adopter, 60_000, NOW + 1_000);
    const claimed = await store.claimGroup(shared.id, dyingToken, adopter, adopterToken);
    await store.listOrphans(NOW + 1_000, 10);
    await store.getGroup(shared.id);
    await store.takeExpired(NOW + 10);
    const expiring = registration(other.id, shared.id, { expiresAt: NOW + 5 });
    await store.createRegistration(expiring, LIMITS);
    await store.takeExpired(NOW + 5);
    await store.deleteRegistration(reg.id);
    await store.deleteSubscription(other.id);
    await store.deleteGroup(shared.id);

    expect(same.id).toBe(first.id);
    expect(first.id).not.toBe(second.id);
    expect(orphan).toEqual({ groupId: shared.id, token: dyingToken });
    expect(claimed).toMatchObject({ owner: adopter, token: adopterToken, seq: 1 });
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
    const { token, group: shared } = await owned(a);
    const reg = registration(null, shared.id);
    await a.createRegistration(reg, LIMITS);

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        (n % 2 ? a : b).appendGroupMessage(shared.id, next(n), KEEP_ALL, { token }),
      ),
    );

    const seqs = results.map((result) => (result.ok ? result.seq : -1));
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, n) => n + 1));
    const log = await b.getMessages(reg.id, 0, 100);
    expect(log.map((envelope) => envelope.seq)).toEqual(
      Array.from({ length: 20 }, (_, n) => n + 1),
    );
    // Each message is stored at the seq its append was answered with.
    const bySeq = new Map(results.map((r, n) => [r.ok ? r.seq : -1, n]));
    expect(log.map((envelope) => envelope.payload)).toEqual(
      log.map((envelope) => ({ data: bySeq.get(envelope.seq) })),
    );
    expect(await redis.llen(key(`{g:${shared.id}}:l`))).toBe(20);
    expect((await b.getRegistration(reg.id))?.seq).toBe(20);
  });

  it('refuses an append from the previous owner after another instance claimed the group', async () => {
    const [a, b] = [open(), open()] as [Store, Store];
    const oldToken = await a.heartbeat('instance-a', 1_000, NOW);
    const shared = group('instance-a', oldToken);
    await a.createGroup(shared);
    const reg = registration(null, shared.id);
    await a.createRegistration(reg, LIMITS);
    expect(
      await a.appendGroupMessage(shared.id, next('a1'), KEEP_ALL, {
        token: oldToken,
        cursor: '5-0',
      }),
    ).toEqual({ ok: true, seq: 1 });

    // instance-a stalls past its lease; instance-b adopts the group.
    const newToken = await b.heartbeat('instance-b', 60_000, NOW + 1_000);
    expect(await b.listOrphans(NOW + 1_000, 10)).toEqual([{ groupId: shared.id, token: oldToken }]);
    expect(await b.claimGroup(shared.id, oldToken, 'instance-b', newToken)).toMatchObject({
      owner: 'instance-b',
      token: newToken,
      cursor: '5-0',
    });
    const late = await a.appendGroupMessage(shared.id, next('a2'), KEEP_ALL, {
      token: oldToken,
      cursor: '6-0',
    });
    const adopted = await b.appendGroupMessage(shared.id, next('b2'), KEEP_ALL, {
      token: newToken,
      cursor: '7-0',
    });

    expect(newToken).toBeGreaterThan(oldToken);
    // The old owner still gets its own token: it learns from the refusal that it lost the group.
    expect(await a.heartbeat('instance-a', 1_000, NOW + 2_000)).toBe(oldToken);
    expect(late).toEqual({ ok: false, reason: 'fenced' });
    expect(adopted).toEqual({ ok: true, seq: 2 });
    expect((await a.getMessages(reg.id, 0, 10)).map((e) => e.payload)).toEqual([
      { data: 'a1' },
      { data: 'b2' },
    ]);
    expect(await a.getGroup(shared.id)).toMatchObject({ seq: 2, cursor: '7-0' });
    expect(await redis.smembers(key('{i}:o:instance-a'))).toEqual([]);
    expect(await redis.smembers(key('{i}:o:instance-b'))).toEqual([shared.id]);
  });

  it('applies an append once when its answer was lost and ioredis resent it', async () => {
    const proxy = await startReplyDroppingProxy(scripts.appendGroupMessage.sha);
    const client = new Redis({ port: proxy.port, host: '127.0.0.1', retryStrategy: () => 10 });
    client.on('error', () => {});
    try {
      // Cached on the server, so that the dropped reply is the append's, not a NOSCRIPT.
      await redis.script('LOAD', scripts.appendGroupMessage.lua);
      const store = open({ redis: client });
      const { token, group: shared } = await owned(store);
      const reg = registration(null, shared.id);
      await store.createRegistration(reg, LIMITS);

      proxy.dropNextReply();
      const result = await store.appendGroupMessage(shared.id, next('once'), KEEP_ALL, {
        token,
        appendId: 'append-1',
      });

      expect(proxy.dropped()).toBe(1);
      expect(result).toEqual({ ok: true, seq: 1 });
      expect((await store.getMessages(reg.id, 0, 10)).map((e) => e.payload)).toEqual([
        { data: 'once' },
      ]);
      expect(await store.getGroup(shared.id)).toMatchObject({ seq: 1 });
    } finally {
      client.disconnect();
      await proxy.close();
    }
  });

  it('leaves no key of an expired registration behind once takeExpired took it', async () => {
    const store = open();
    const subscription = await subscribe(store);
    const { owner, token, group: shared } = await owned(store);
    const reg = registration(subscription.id, shared.id, { expiresAt: NOW + 100 });
    await store.createRegistration(reg, LIMITS);
    for (let n = 0; n < 3; n++) {
      await store.appendGroupMessage(shared.id, next(n), KEEP_ALL, { token });
    }
    await store.renew(reg.tabId, [{ registrationId: reg.id, ackedSeq: 1 }], NOW + 200);
    expect(await keysWithPrefix(redis, prefix)).toContain(key(`{r:${reg.id}}`));

    const taken = await store.takeExpired(NOW + 200);

    expect(taken).toEqual([
      { ...reg, expiresAt: NOW + 200, seq: 3, ackedSeq: 1, base: 0, done: false },
    ]);
    // Left: the push subscription (pointer and record, its set now empty), each with a TTL; the
    // index that counts subscriptions (trimmed by time as it is read); the running group (its
    // log went with its last member, who needed it); the instance.
    const left = await keysWithPrefix(redis, prefix);
    const tagged = [
      key(`{e:${subscription.id.slice(0, 22)}}`),
      key(`{e:${subscription.id.slice(0, 22)}}:${subscription.id}`),
    ];
    expect(left).toEqual(
      [
        ...tagged,
        key('subscriptions'),
        key(`{g:${shared.id}}`),
        key(`{g:${shared.id}}:d`),
        key('{i}:l'),
        key('{i}:n'),
        key(`{i}:o:${owner}`),
        key('{i}:t'),
      ].sort(),
    );
    for (const tag of tagged) expect(await redis.pttl(tag)).toBeGreaterThan(0);
  });

  it('leaves no key of a done group once its last member is deleted, nor of a group deleted empty', async () => {
    const store = open();
    const subscription = await subscribe(store);
    const { owner, token, group: done } = await owned(store);
    const members = [registration(subscription.id, done.id), registration(null, done.id)];
    for (const member of members) await store.createRegistration(member, LIMITS);
    await store.appendGroupMessage(done.id, next(1), KEEP_ALL, { token });
    await store.appendGroupMessage(done.id, { type: 'complete' }, KEEP_ALL, { token });
    const empty = group(owner, token);
    await store.createGroup(empty);

    await store.deleteRegistration(members[0]?.id as string);
    expect(await redis.exists(key(`{g:${done.id}}`))).toBe(1);
    await store.deleteRegistration(members[1]?.id as string);
    expect(await store.deleteGroup(empty.id)).toBe(true);
    await store.deleteSubscription(subscription.id);

    const left = await keysWithPrefix(redis, prefix);
    expect(left.filter((name) => /\{[grte]:/.test(name) || name.includes(':o:'))).toEqual([]);
    expect(await redis.zcard(key('expiry'))).toBe(0);
  });

  it('leaves no key of an instance once it is forgotten', async () => {
    const store = open();
    const gone = `instance-${randomId()}`;
    const goneToken = await store.heartbeat(gone, 1_000, NOW);
    const orphan = group(gone, goneToken);
    await store.createGroup(orphan);
    const adopter = `instance-${randomId()}`;
    const adopterToken = await store.heartbeat(adopter, 1_000, NOW + 1_000);

    await store.claimGroup(orphan.id, goneToken, adopter, adopterToken);
    expect(await store.listOrphans(NOW + 1_000, 10)).toEqual([]);
    expect(await redis.hexists(key('{i}:t'), gone)).toBe(0);
    // The adopter hands over and its group ends: it owns nothing and is forgotten too.
    await store.deleteGroup(orphan.id);
    await store.releaseInstance(adopter);
    expect(await store.listOrphans(NOW + 1_000, 10)).toEqual([]);

    // Only the counter stays, so that tokens keep growing.
    expect(await keysWithPrefix(redis, prefix)).toEqual([key('{i}:n')]);
    expect(await store.heartbeat(gone, 1_000, NOW + 2_000)).toBeGreaterThan(adopterToken);
  });

  it('trims the group log by its members’ acknowledgements, each counted from where it joined', async () => {
    const store = open();
    const { token, group: shared } = await owned(store);
    const logLength = () => redis.llen(key(`{g:${shared.id}}:l`));
    const append = (n: number) => store.appendGroupMessage(shared.id, next(n), KEEP_ALL, { token });
    const first = registration(null, shared.id);
    await store.createRegistration(first, LIMITS);
    for (const n of [1, 2, 3]) await append(n);
    const later = registration(null, shared.id);
    expect(await store.createRegistration(later, LIMITS)).toEqual({ ok: true, base: 3 });
    for (const n of [4, 5]) await append(n);
    const ack = (record: RegistrationRecord, ackedSeq: number) =>
      store.renew(record.tabId, [{ registrationId: record.id, ackedSeq }], NOW + 60_000);

    expect(await logLength()).toBe(5);
    // The later member needs nothing before its base: the first one's ack decides alone.
    await ack(first, 2);
    expect(await logLength()).toBe(3);
    expect(await redis.zscore(key(`{g:${shared.id}}:m`), first.id)).toBe('2');
    await ack(first, 5);
    expect(await logLength()).toBe(2);
    expect((await ack(later, 1)).renewed[0]).toMatchObject({ seq: 2, ackedSeq: 1 });
    expect(await redis.zscore(key(`{g:${shared.id}}:m`), later.id)).toBe('4');
    expect((await store.getMessages(later.id, 0, 10)).map((e) => e.seq)).toEqual([2]);
    // Once the member that needed the rest leaves, the log drops it.
    await store.deleteRegistration(later.id);
    expect(await logLength()).toBe(0);
    expect(await redis.exists(key(`{g:${shared.id}}:l`))).toBe(0);
  });

  it('finishes a creation or a deletion cut short between its steps once takeExpired reaches it', async () => {
    const store = open();
    const { token, group: shared } = await owned(store);
    const groupKeys = [
      key(`{g:${shared.id}}`),
      key(`{g:${shared.id}}:d`),
      key(`{g:${shared.id}}:l`),
      key(`{g:${shared.id}}:m`),
      key(`{g:${shared.id}}:r`),
    ];
    const regKeys = (id: string) => [key(`{r:${id}}`), key(`{r:${id}}:d`)];
    // A creation that wrote the registration and joined, then its process died.
    const created = registration(null, shared.id, { expiresAt: NOW + 10 });
    await runScript(redis, scripts.putRegistration, regKeys(created.id), [
      '{}',
      't',
      created.tabId,
      'x',
      String(created.expiresAt),
      'g',
      shared.id,
    ]);
    await redis.zadd(key('expiry'), created.expiresAt, `${created.id}:${shared.id}`);
    await runScript(redis, scripts.joinGroup, groupKeys, [created.id, '1', `0:${NOW + 10}::tab`]);
    // A deletion that retired the registration, then its process died.
    const deleted = registration(null, shared.id, { expiresAt: NOW + 60_000 });
    await store.createRegistration(deleted, LIMITS);
    await runScript(redis, scripts.retireRegistration, regKeys(deleted.id), []);
    await store.appendGroupMessage(shared.id, { type: 'complete' }, KEEP_ALL, { token });
    // Readers see neither; the group still counts both as members until the cleanup.
    expect(await store.getRegistration(created.id)).toBeNull();
    expect(await store.getRegistration(deleted.id)).toBeNull();
    expect(await redis.zcard(groupKeys[3] as string)).toBe(2);

    // Neither was ever returned to anyone: takeExpired cleans up without reporting them.
    expect(await store.takeExpired(NOW + 60_000)).toEqual([]);

    // The done group went with its last member.
    expect(await store.getGroup(shared.id)).toBeNull();
    expect(await keysWithPrefix(redis, prefix)).toEqual(
      [key('{i}:l'), key('{i}:n'), key('{i}:t')].sort(),
    );
  });

  it('reads nothing for a registration another instance deleted, even where it was read before', async () => {
    const [a, b] = [open(), open()] as [Store, Store];
    const { token, group: shared } = await owned(a);
    const reg = registration(null, shared.id);
    const stays = registration(null, shared.id);
    for (const record of [reg, stays]) await a.createRegistration(record, LIMITS);
    await a.appendGroupMessage(shared.id, next(1), KEEP_ALL, { token });
    expect(await a.getMessages(reg.id, 0, 10)).toHaveLength(1);

    expect(await b.deleteRegistration(reg.id)).toBe(true);

    expect(await a.getMessages(reg.id, 0, 10)).toEqual([]);
    expect(await a.getMessages(stays.id, 0, 10)).toHaveLength(1);
  });

  it('signals on any channel name, each on a Redis channel of its own hash tag', async () => {
    const [a, b] = [open(), open()] as [Store, Store];
    const groupId = randomId();
    const tabId = `tab-${randomId()}`;
    const instance = `i:instance-${randomId()}`;
    const names = [tabId, `g:${groupId}`, instance];
    const channels = [key(`{t:${tabId}}:w`), key(`{g:${groupId}}:w`), key(`{${instance}}:w`)];
    const got: string[] = [];
    const stops = names.map((name) => b.listen(name, (message) => got.push(`${name} ${message}`)));
    await vi.waitFor(async () =>
      expect(await redis.pubsub('NUMSUB', ...channels)).toEqual(
        channels.flatMap((channel) => [channel, 1]),
      ),
    );

    for (const name of names) await a.signal(name, 'x');

    await vi.waitFor(() => expect(got.sort()).toEqual(names.map((name) => `${name} x`).sort()));
    for (const stop of stops) stop();
  });

  it('signals over sharded pub/sub on a Cluster created with shardedSubscribers', async () => {
    const sharded = cluster.connect({ shardedSubscribers: true });
    try {
      const [a, b] = [open({ redis: sharded }), open({ redis: sharded })] as [Store, Store];
      const name = `g:${randomId()}`;
      const got: string[] = [];
      const stop = b.listen(name, (message) => got.push(message));
      await vi.waitFor(async () => {
        await a.signal(name, 'G 1');
        expect(got.length).toBeGreaterThan(0);
      });
      expect(new Set(got)).toEqual(new Set(['G 1']));
      stop();
      await Promise.all(stores.splice(0).map((store) => store.close?.()));
    } finally {
      await sharded.quit();
    }
  });

  it('gives every push subscription key a TTL, and leaves none of them after deleting it', async () => {
    const store = open();
    const subscription = await subscribe(store);
    const { token, group: shared } = await owned(store);
    const regs = [];
    for (let n = 0; n < 3; n++) {
      const reg = registration(subscription.id, shared.id);
      await store.createRegistration(reg, LIMITS);
      await store.appendGroupMessage(shared.id, next(n), KEEP_ALL, { token });
      regs.push(reg);
    }
    const tagged = (await keysWithPrefix(redis, prefix)).filter((name) => name.includes('{e:'));
    expect(tagged).toHaveLength(3);
    for (const name of tagged) expect(await redis.pttl(name)).toBeGreaterThan(0);

    expect(await store.deleteSubscription(subscription.id)).toHaveLength(3);

    expect((await keysWithPrefix(redis, prefix)).filter((name) => name.includes('{e:'))).toEqual(
      [],
    );
    for (const reg of regs) {
      expect((await store.getRegistration(reg.id))?.subscriptionId).toBeNull();
    }
  });

  it('keeps exactly maxPerSubscription registrations under concurrent inserts from many tabs', async () => {
    const store = open();
    const subscription = await subscribe(store);
    const { group: shared } = await owned(store);
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        store.createRegistration(registration(subscription.id, shared.id), {
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
    expect(await store.listMembers(shared.id)).toHaveLength(5);
    expect(await redis.zcard(key(`{g:${shared.id}}:m`))).toBe(5);
    expect(await redis.scard(key(`{e:${subscription.id.slice(0, 22)}}:${subscription.id}:r`))).toBe(
      5,
    );
  });

  it('does not register on a subscription that is deleted at the same time', async () => {
    const store = open();
    const { group: shared } = await owned(store);
    for (let round = 0; round < 20; round++) {
      const subscription = await subscribe(store);
      const reg = registration(subscription.id, shared.id);
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
        expect(deleted).toEqual([]);
      }
    }
    // Refused ones left their group.
    const members = await store.listMembers(shared.id);
    expect(await redis.zcard(key(`{g:${shared.id}}:m`))).toBe(members.length);
  });

  it('reports each expired registration once when two instances take expired ones at the same time', async () => {
    const [a, b] = [open(), open()] as [Store, Store];
    const { group: shared } = await owned(a);
    const records = Array.from({ length: 30 }, (_, n) =>
      registration(null, shared.id, { expiresAt: NOW + n }),
    );
    for (const record of records) await a.createRegistration(record, LIMITS);

    const [fromA, fromB] = await Promise.all([a.takeExpired(NOW + 60), b.takeExpired(NOW + 60)]);

    const ids = [...fromA, ...fromB].map((record) => record.id).sort();
    expect(ids).toEqual(records.map((record) => record.id).sort());
    expect(await redis.exists(key(`{g:${shared.id}}:m`), key('expiry'))).toBe(0);
    expect((await keysWithPrefix(redis, prefix)).filter((name) => /\{[rt]:/.test(name))).toEqual(
      [],
    );
  });

  it('either joins a group that lives on or refuses, when the group is deleted at the same time', async () => {
    const store = open();
    for (let round = 0; round < 20; round++) {
      const { group: doomed } = await owned(store);
      const reg = registration(null, doomed.id);
      const [created, deleted] = await Promise.all([
        store.createRegistration(reg, LIMITS),
        store.deleteGroup(doomed.id),
      ]);
      if (created.ok) {
        expect(deleted).toBe(false);
        expect(await store.getGroup(doomed.id)).not.toBeNull();
        expect((await store.listMembers(doomed.id)).map((member) => member.id)).toEqual([reg.id]);
      } else {
        expect(created).toEqual({ ok: false, reason: 'group-gone' });
        expect(deleted).toBe(true);
        expect(await store.getRegistration(reg.id)).toBeNull();
        expect(await redis.exists(...[`{r:${reg.id}}`, `{t:${reg.tabId}}`].map(key))).toBe(0);
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
    expect(await redis.zcard(key('subscriptions'))).toBe(1);
  });

  it('finds the scripts again after the server forgot them (SCRIPT FLUSH)', async () => {
    const store = open();
    const { token, group: shared } = await owned(store);
    await redis.script('FLUSH');
    expect(await store.appendGroupMessage(shared.id, next(1), KEEP_ALL, { token })).toEqual({
      ok: true,
      seq: 1,
    });
  });

  it('closes only a client it created itself', async () => {
    const ownedClient = createRedisStore({ redis: REDIS_URL, prefix });
    expect(await ownedClient.getSubscription(randomId())).toBeNull();
    await ownedClient.close?.();
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

/**
 * A TCP proxy to the test Redis that, when armed, forwards the next command naming `sha` and
 * then drops the connection instead of passing on the reply: a reply lost after the command ran.
 */
async function startReplyDroppingProxy(sha: string) {
  let armed = false;
  let dropped = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    const upstream = connect({ host: '127.0.0.1', port: 6379 });
    sockets.add(downstream).add(upstream);
    let dropReply = false;
    downstream.on('data', (chunk) => {
      if (armed && chunk.toString('latin1').includes(sha)) {
        armed = false;
        dropReply = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!dropReply) {
        downstream.write(chunk);
        return;
      }
      dropped += 1;
      downstream.destroy();
      upstream.destroy();
    });
    const close = () => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return {
    port: address.port,
    dropNextReply: () => {
      armed = true;
    },
    dropped: () => dropped,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
