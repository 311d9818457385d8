import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Envelope, PushSubscriptionData } from '../../protocol/index.js';
import { randomId } from '../ids.js';
import { NOW, next, testGroup, testRegistration } from './test-records.js';
import type {
  GroupMessage,
  GroupRecord,
  RegistrationRecord,
  RetentionOptions,
  Store,
} from './types.js';

const KEEP_ALL: RetentionOptions = { messageTtlMs: 3_600_000, maxMessages: 1000 };
const LIMITS = { maxPerTab: 50, maxPerSubscription: 200 };
// Push subscriptions expire by the wall clock (Redis TTLs), so times are real ones.
const TTL = 60_000;

function subscriptionData(keys = { p256dh: 'BPublicKey', auth: 'AuthSecret' }) {
  return {
    endpoint: `https://push.example/${randomId()}`,
    keys,
  } satisfies PushSubscriptionData;
}

const registration = (
  subscriptionId: string | null,
  { groupId, ...overrides }: Partial<RegistrationRecord> & { groupId: string },
): RegistrationRecord => testRegistration(subscriptionId, groupId, overrides);
const group = testGroup;

const seqs = (envelopes: Envelope[]): number[] => envelopes.map((e) => e.seq);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The behaviour every {@link Store} must have, as a vitest suite. Run it once per
 * implementation, e.g. `describeStoreContract('memory', async () => createMemoryStore())`.
 *
 * @param name - shown in the suite's title
 * @param makeStore - gives a ready store for each test
 * @param cleanup - called after each test with that test's store (close connections, flush keys)
 * @param makePeer - another store on the same data as the given one (a second instance), for
 * signals; the memory store's peer is itself
 * @remarks Ids are random per test, so a store shared between tests (one Redis database) does not
 * leak state from one test into another. One test waits ~100 ms of real time for the message TTL.
 */
export function describeStoreContract(
  name: string,
  makeStore: () => Promise<Store>,
  cleanup?: (store: Store) => Promise<void>,
  makePeer: (store: Store) => Promise<Store> = async (store) => store,
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    /** This test's instance, its token, and one group its registrations join by default. */
    let owner: string;
    let token: number;
    let shared: GroupRecord;

    const withGroup = async (overrides: Partial<GroupRecord> = {}) => {
      const record = group(owner, token, overrides);
      await store.createGroup(record);
      return record;
    };
    /** A registration of the shared group unless told otherwise. */
    const reg = (
      subscriptionId: string | null,
      overrides: Partial<RegistrationRecord> = {},
    ): RegistrationRecord => registration(subscriptionId, { groupId: shared.id, ...overrides });
    const append = (groupId: string, message: GroupMessage, retention = KEEP_ALL) =>
      store.appendGroupMessage(groupId, message, retention, { token });

    beforeEach(async () => {
      store = await makeStore();
      owner = `instance-${randomId()}`;
      token = await store.heartbeat(owner, 3_600_000, NOW);
      shared = await withGroup();
    });
    afterEach(async () => {
      await cleanup?.(store);
    });

    const withSubscription = async () =>
      store.putSubscription(subscriptionData(), randomId(), NOW, TTL);

    const withRegistration = async (overrides: Partial<RegistrationRecord> = {}) => {
      const subscription = await withSubscription();
      const record = reg(subscription.id, overrides);
      expect(await store.createRegistration(record, LIMITS)).toEqual({ ok: true, base: 0 });
      return record;
    };

    describe('push subscriptions', () => {
      it('stores a new subscription and returns it with the id it is kept under', async () => {
        const data = subscriptionData();
        const id = randomId();
        const record = await store.putSubscription(data, id, NOW, TTL);
        // The Redis store puts the endpoint's digest in front of the id (its hash tag).
        expect(record.id.endsWith(id)).toBe(true);
        expect(record).toEqual({
          id: record.id,
          endpoint: data.endpoint,
          keys: data.keys,
          createdAt: NOW,
          expiresAt: NOW + TTL,
          clientKey: null,
        });
        expect(await store.getSubscription(record.id)).toEqual(record);
        expect(await store.findSubscription(data.endpoint)).toEqual(record);
        expect(await store.findSubscription(`${data.endpoint}-other`)).toBeNull();
      });

      it('gives the same id for the same endpoint and keys, and extends it', async () => {
        const data = subscriptionData();
        const first = await store.putSubscription(data, randomId(), NOW, TTL);
        const second = await store.putSubscription(
          { ...data, keys: { ...data.keys } },
          randomId(),
          NOW + 5,
          TTL,
        );
        expect(second).toEqual({ ...first, expiresAt: NOW + 5 + TTL });
      });

      it('replaces the record when the endpoint comes back with new keys; its registrations go on the stream', async () => {
        const data = subscriptionData();
        const old = await store.putSubscription(data, randomId(), NOW, TTL);
        const onOld = reg(old.id);
        await store.createRegistration(onOld, LIMITS);
        const replaced = await store.putSubscription(
          { endpoint: data.endpoint, keys: { p256dh: 'BOtherKey', auth: 'OtherAuth' } },
          randomId(),
          NOW + 1,
          TTL,
        );
        expect(replaced.id).not.toBe(old.id);
        expect(replaced.keys).toEqual({ p256dh: 'BOtherKey', auth: 'OtherAuth' });
        expect(await store.getSubscription(old.id)).toBeNull();
        expect(await store.getRegistration(onOld.id)).toEqual({ ...onOld, subscriptionId: null });
      });

      it('returns null for an unknown subscription id', async () => {
        expect(await store.getSubscription(randomId())).toBeNull();
      });

      it('deletes a subscription; its registrations stay, with their logs, on the stream', async () => {
        const subscription = await withSubscription();
        const own = await withGroup();
        const a = reg(subscription.id, { groupId: own.id });
        const b = reg(subscription.id);
        await store.createRegistration(a, LIMITS);
        await store.createRegistration(b, LIMITS);
        await append(own.id, next(1));
        const other = await withRegistration();

        const detached = await store.deleteSubscription(subscription.id);

        expect(detached.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
        expect(detached.every((r) => r.subscriptionId === null)).toBe(true);
        expect(await store.getSubscription(subscription.id)).toBeNull();
        expect(await store.getRegistration(a.id)).toMatchObject({ subscriptionId: null, seq: 1 });
        expect(await store.getRegistration(b.id)).toEqual({ ...b, subscriptionId: null });
        expect(seqs(await store.getMessages(a.id, 0, 10))).toEqual([1]);
        expect(await store.listBySubscription(subscription.id)).toEqual([]);
        expect(await store.getRegistration(other.id)).toEqual(other);
        expect(await store.deleteSubscription(subscription.id)).toEqual([]);
      });

      it('expires a subscription nothing uses once its TTL passes', async () => {
        const unused = await store.putSubscription(subscriptionData(), randomId(), Date.now(), 60);
        await sleep(150);
        await store.takeExpired(Date.now());
        expect(await store.getSubscription(unused.id)).toBeNull();
      });

      it('keeps a subscription as long as a registration on it lives', async () => {
        const used = await store.putSubscription(subscriptionData(), randomId(), Date.now(), 60);
        const record = reg(used.id, { expiresAt: Date.now() + 60_000 });
        await store.createRegistration(record, LIMITS);
        await sleep(150);
        expect(await store.getSubscription(used.id)).toMatchObject({
          id: used.id,
          expiresAt: record.expiresAt,
        });
        const later = Date.now() + 120_000;
        await store.renew(record.tabId, [{ registrationId: record.id, ackedSeq: 0 }], later);
        expect((await store.getSubscription(used.id))?.expiresAt).toBe(later);
      });
    });

    describe('registrations', () => {
      it('stores a registration and reads it back unchanged', async () => {
        const record = await withRegistration({ background: true });
        expect(await store.getRegistration(record.id)).toEqual(record);
        expect(await store.listByTab(record.tabId)).toEqual([record]);
        expect(await store.listBySubscription(record.subscriptionId as string)).toEqual([record]);
      });

      it('stores a registration delivered over the stream (no push subscription)', async () => {
        const record = reg(null);
        expect(await store.createRegistration(record, LIMITS)).toEqual({ ok: true, base: 0 });
        expect(await store.getRegistration(record.id)).toEqual(record);
        expect(await store.listByTab(record.tabId)).toEqual([record]);
      });

      it('hands out copies: changing a returned record changes nothing stored', async () => {
        const record = await withRegistration();
        const copy = await store.getRegistration(record.id);
        if (!copy) throw new Error('missing');
        copy.seq = 99;
        copy.headers.authorization = 'changed';
        expect(await store.getRegistration(record.id)).toEqual(record);
      });

      it('refuses a registration on an unknown subscription', async () => {
        const record = reg(randomId());
        expect(await store.createRegistration(record, LIMITS)).toEqual({
          ok: false,
          reason: 'unknown-subscription',
        });
        expect(await store.getRegistration(record.id)).toBeNull();
      });

      it('refuses the registration past the per-tab limit and keeps the others', async () => {
        const subscription = await withSubscription();
        const tabId = `tab-${randomId()}`;
        const limits = { maxPerTab: 2, maxPerSubscription: 10 };
        const [a, b, c] = [1, 2, 3].map(() => reg(subscription.id, { tabId })) as [
          RegistrationRecord,
          RegistrationRecord,
          RegistrationRecord,
        ];
        expect(await store.createRegistration(a, limits)).toEqual({ ok: true, base: 0 });
        expect(await store.createRegistration(b, limits)).toEqual({ ok: true, base: 0 });
        expect(await store.createRegistration(c, limits)).toEqual({
          ok: false,
          reason: 'tab-limit',
        });
        expect((await store.listByTab(tabId)).map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
      });

      it('refuses the registration past the per-subscription limit', async () => {
        const subscription = await withSubscription();
        const limits = { maxPerTab: 10, maxPerSubscription: 2 };
        const records = [1, 2, 3].map(() => reg(subscription.id));
        const results = [];
        for (const record of records) results.push(await store.createRegistration(record, limits));
        expect(results).toEqual([
          { ok: true, base: 0 },
          { ok: true, base: 0 },
          { ok: false, reason: 'subscription-limit' },
        ]);
        expect(await store.listBySubscription(subscription.id)).toHaveLength(2);
      });

      it('enforces the limit under concurrent inserts (exactly maxPerTab succeed)', async () => {
        const subscription = await withSubscription();
        const tabId = `tab-${randomId()}`;
        const records = Array.from({ length: 10 }, () => reg(subscription.id, { tabId }));
        const results = await Promise.all(
          records.map((r) =>
            store.createRegistration(r, { maxPerTab: 4, maxPerSubscription: 100 }),
          ),
        );
        expect(results.filter((r) => r.ok)).toHaveLength(4);
        expect(await store.listByTab(tabId)).toHaveLength(4);
      });

      it('deletes a registration and its log, once', async () => {
        const record = await withRegistration();
        await append(record.groupId, next(1));
        expect(await store.deleteRegistration(record.id)).toBe(true);
        expect(await store.getRegistration(record.id)).toBeNull();
        expect(await store.getMessages(record.id, 0, 10)).toEqual([]);
        expect(await store.listByTab(record.tabId)).toEqual([]);
        expect(await store.deleteRegistration(record.id)).toBe(false);
      });

      it('takes exactly the registrations expired at `now`, once', async () => {
        const subscription = await withSubscription();
        const early = reg(subscription.id, { expiresAt: NOW + 10 });
        const atNow = reg(subscription.id, { expiresAt: NOW + 20 });
        const later = reg(subscription.id, { expiresAt: NOW + 21 });
        for (const r of [early, atNow, later]) await store.createRegistration(r, LIMITS);

        const taken = await store.takeExpired(NOW + 20);

        expect(taken.map((r) => r.id).sort()).toEqual([early.id, atNow.id].sort());
        expect(taken.find((r) => r.id === early.id)).toEqual(early);
        expect(await store.getRegistration(early.id)).toBeNull();
        expect(await store.getRegistration(atNow.id)).toBeNull();
        expect(await store.getRegistration(later.id)).toEqual(later);
        expect(await store.takeExpired(NOW + 20)).toEqual([]);
      });
    });

    describe('renew', () => {
      it("extends the tab's listed registrations and reports unknown or foreign ids as gone", async () => {
        const mine = await withRegistration();
        const foreign = await withRegistration();
        const unknown = randomId();

        const result = await store.renew(
          mine.tabId,
          [
            { registrationId: mine.id, ackedSeq: 0 },
            { registrationId: foreign.id, ackedSeq: 0 },
            { registrationId: unknown, ackedSeq: 0 },
          ],
          NOW + 120_000,
        );

        expect(result.renewed).toEqual([{ ...mine, expiresAt: NOW + 120_000 }]);
        expect([...result.gone].sort()).toEqual([foreign.id, unknown].sort());
        expect(await store.getRegistration(foreign.id)).toEqual(foreign);
      });

      it('drops acknowledged messages from the log', async () => {
        const record = await withRegistration();
        for (const n of [1, 2, 3]) await append(record.groupId, next(n));

        const { renewed } = await store.renew(
          record.tabId,
          [{ registrationId: record.id, ackedSeq: 2 }],
          NOW + 1,
        );

        expect(renewed[0]?.ackedSeq).toBe(2);
        expect(seqs(await store.getMessages(record.id, 0, 10))).toEqual([3]);
      });

      it('never moves an ack backwards nor past the last seq', async () => {
        const record = await withRegistration();
        for (const n of [1, 2]) await append(record.groupId, next(n));
        const ack = async (ackedSeq: number) =>
          (await store.renew(record.tabId, [{ registrationId: record.id, ackedSeq }], NOW + 1))
            .renewed[0]?.ackedSeq;
        expect(await ack(9)).toBe(2);
        expect(await ack(1)).toBe(2);
        expect(await store.getMessages(record.id, 0, 10)).toEqual([]);
      });

      it('holds the pushes of a hidden tab’s registrations, except background ones, until shown', async () => {
        const subscription = await withSubscription();
        const tabId = `tab-${randomId()}`;
        const data = reg(subscription.id, { tabId });
        const background = reg(subscription.id, { tabId, background: true });
        for (const r of [data, background]) await store.createRegistration(r, LIMITS);
        const acks = [data, background].map((r) => ({ registrationId: r.id, ackedSeq: 0 }));
        const held = async () =>
          Object.fromEntries(
            (await store.listByTab(tabId)).map((r) => [r.background ? 'bg' : 'data', r.held]),
          );

        await store.renew(tabId, acks, NOW + 1, { hidden: true });
        expect(await held()).toEqual({ data: true, bg: false });
        await store.renew(tabId, acks, NOW + 2);
        expect(await held()).toEqual({ data: true, bg: false });
        await store.renew(tabId, acks, NOW + 3, { hidden: false });
        expect(await held()).toEqual({ data: false, bg: false });
      });
    });

    describe('usage', () => {
      it('counts live push subscriptions and registrations, in all and per client', async () => {
        const before = await store.usage();
        const client = `client-${randomId()}`;
        const mine = await store.putSubscription(
          subscriptionData(),
          randomId(),
          Date.now(),
          TTL,
          client,
        );
        await store.putSubscription(subscriptionData(), randomId(), Date.now(), TTL);
        const a = reg(mine.id, { clientKey: client });
        const b = reg(null, { clientKey: client });
        const c = reg(null);
        for (const r of [a, b, c]) await store.createRegistration(r, LIMITS);

        expect(await store.usage()).toEqual({
          subscriptions: before.subscriptions + 2,
          registrations: before.registrations + 3,
        });
        expect(await store.usage(client)).toEqual({ subscriptions: 1, registrations: 2 });
        expect(await store.getRegistration(a.id)).toMatchObject({ clientKey: client });
        expect(await store.getSubscription(mine.id)).toMatchObject({ clientKey: client });

        await store.deleteRegistration(a.id);
        await store.deleteSubscription(mine.id);
        expect(await store.usage(client)).toEqual({ subscriptions: 0, registrations: 1 });
        expect(await store.usage(`client-${randomId()}`)).toEqual({
          subscriptions: 0,
          registrations: 0,
        });
      });

      it('stops counting a push subscription once it expired unused', async () => {
        const client = `client-${randomId()}`;
        await store.putSubscription(subscriptionData(), randomId(), Date.now(), 50, client);
        expect((await store.usage(client)).subscriptions).toBe(1);
        await sleep(120);
        expect((await store.usage(client)).subscriptions).toBe(0);
      });
    });

    describe('move', () => {
      it('moves the tab’s registrations from the stream to a push subscription and back', async () => {
        const tabId = `tab-${randomId()}`;
        const a = reg(null, { tabId });
        const b = reg(null, { tabId });
        for (const r of [a, b]) await store.createRegistration(r, LIMITS);
        const subscription = await withSubscription();

        const moved = await store.move(tabId, [a.id, b.id], subscription.id, 10);
        expect(moved.ok && moved.moved.map((r) => r.subscriptionId)).toEqual([
          subscription.id,
          subscription.id,
        ]);
        expect((await store.listBySubscription(subscription.id)).map((r) => r.id).sort()).toEqual(
          [a.id, b.id].sort(),
        );

        const back = await store.move(tabId, [a.id], null, 10);
        expect(back).toEqual({ ok: true, moved: [{ ...a, subscriptionId: null }], gone: [] });
        expect((await store.listBySubscription(subscription.id)).map((r) => r.id)).toEqual([b.id]);
        expect((await store.getRegistration(a.id))?.subscriptionId).toBeNull();
      });

      it('moves from one push subscription to another, and reports foreign or unknown ids as gone', async () => {
        const record = await withRegistration();
        const foreign = await withRegistration();
        const replacement = await withSubscription();
        const unknown = randomId();

        const result = await store.move(
          record.tabId,
          [record.id, foreign.id, unknown],
          replacement.id,
          10,
        );

        expect(result.ok && result.moved.map((r) => r.id)).toEqual([record.id]);
        expect(result.ok && [...result.gone].sort()).toEqual([foreign.id, unknown].sort());
        expect(await store.listBySubscription(record.subscriptionId as string)).toEqual([]);
        expect((await store.listBySubscription(replacement.id)).map((r) => r.id)).toEqual([
          record.id,
        ]);
        expect(await store.getRegistration(foreign.id)).toEqual(foreign);
      });

      it('moves nothing onto a subscription that would hold more than the limit', async () => {
        const target = await withSubscription();
        const already = reg(target.id);
        await store.createRegistration(already, LIMITS);
        const tabId = `tab-${randomId()}`;
        const records = [1, 2, 3].map(() => reg(null, { tabId }));
        for (const r of records) await store.createRegistration(r, LIMITS);

        const refused = await store.move(
          tabId,
          records.map((r) => r.id),
          target.id,
          3,
        );

        expect(refused).toEqual({ ok: false, reason: 'subscription-limit' });
        expect(await store.listBySubscription(target.id)).toHaveLength(1);
        for (const r of records) {
          expect((await store.getRegistration(r.id))?.subscriptionId).toBeNull();
        }
        const fits = await store.move(tabId, [records[0]?.id as string], target.id, 3);
        expect(fits.ok).toBe(true);
      });

      it('moves nothing onto an unknown subscription', async () => {
        const record = reg(null);
        await store.createRegistration(record, LIMITS);
        expect(await store.move(record.tabId, [record.id], randomId(), 10)).toEqual({
          ok: false,
          reason: 'unknown-subscription',
        });
        expect(await store.getRegistration(record.id)).toEqual(record);
      });
    });

    describe('signals', () => {
      it('reaches the tab’s listeners on every instance, and no other tab’s', async () => {
        const peer = await makePeer(store);
        const tabId = `tab-${randomId()}`;
        const got: string[] = [];
        const others: string[] = [];
        const stop = peer.listen(tabId, (message) => got.push(message));
        const stopOther = peer.listen(`tab-${randomId()}`, (message) => others.push(message));
        // A subscription takes a round trip on Redis.
        await sleep(100);

        await store.signal(tabId, 'a r1 3');
        await store.signal(tabId, 'a r1 4');
        await vi.waitFor(() => expect(got).toEqual(['a r1 3', 'a r1 4']), { timeout: 2_000 });

        stop();
        await sleep(50);
        await store.signal(tabId, 'after');
        await sleep(100);
        expect(got).toEqual(['a r1 3', 'a r1 4']);
        expect(others).toEqual([]);
        stopOther();
      });
    });

    describe('groups', () => {
      it('stores a group and reads it back; its members join at its current seq', async () => {
        const own = await withGroup({ cursor: '3-0' });
        expect(await store.getGroup(own.id)).toEqual(own);
        const first = reg(null, { groupId: own.id });
        expect(await store.createRegistration(first, LIMITS)).toEqual({ ok: true, base: 0 });
        for (const n of [1, 2]) await append(own.id, next(n));

        const later = reg(null, { groupId: own.id });
        expect(await store.createRegistration(later, LIMITS)).toEqual({ ok: true, base: 2 });
        expect(await store.getRegistration(later.id)).toEqual({ ...later, base: 2, seq: 0 });
        expect(await store.getRegistration(first.id)).toMatchObject({ base: 0, seq: 2 });
        expect(await store.getGroup(own.id)).toMatchObject({ seq: 2, done: false });
      });

      it('gives a member only what was appended after it joined, numbered from 1', async () => {
        const own = await withGroup();
        const first = reg(null, { groupId: own.id });
        await store.createRegistration(first, LIMITS);
        for (const n of [1, 2, 3]) await append(own.id, next(n));
        const later = reg(null, { groupId: own.id });
        await store.createRegistration(later, LIMITS);
        await append(own.id, next(4));

        const envelopes = await store.getMessages(later.id, 0, 10);
        expect(envelopes).toEqual([
          {
            v: 1,
            id: `${later.id}:1`,
            tab: later.tabId,
            reg: later.id,
            seq: 1,
            type: 'next',
            payload: { data: 4 },
          },
        ]);
        expect(seqs(await store.getMessages(first.id, 0, 10))).toEqual([1, 2, 3, 4]);
        expect((await store.getMessages(first.id, 2, 10)).map((e) => e.payload)).toEqual([
          { data: 3 },
          { data: 4 },
        ]);
      });

      it('refuses a member for a group that is gone or done', async () => {
        const done = await withGroup();
        await append(done.id, { type: 'complete' });
        for (const groupId of [done.id, randomId()]) {
          const record = reg(null, { groupId });
          expect(await store.createRegistration(record, LIMITS)).toEqual({
            ok: false,
            reason: 'group-gone',
          });
          expect(await store.getRegistration(record.id)).toBeNull();
        }
      });

      it('lists how each member is reached, and forgets members that left', async () => {
        const own = await withGroup();
        const subscription = await withSubscription();
        const pushed = reg(subscription.id, { groupId: own.id, background: true });
        const streamed = reg(null, { groupId: own.id });
        for (const r of [pushed, streamed]) await store.createRegistration(r, LIMITS);
        // Read once before the changes below: a later read shows them all the same.
        expect((await store.listMembers(own.id)).find((m) => m.id === streamed.id)?.held).toBe(
          false,
        );
        await store.renew(streamed.tabId, [{ registrationId: streamed.id, ackedSeq: 0 }], NOW + 9, {
          hidden: true,
        });
        const byId = (routes: Awaited<ReturnType<Store['listMembers']>>) =>
          [...routes].sort((x, y) => (x.id < y.id ? -1 : 1));

        expect(byId(await store.listMembers(own.id))).toEqual(
          byId([
            {
              id: pushed.id,
              tabId: pushed.tabId,
              subscriptionId: subscription.id,
              held: false,
              background: true,
              expiresAt: pushed.expiresAt,
              base: 0,
            },
            {
              id: streamed.id,
              tabId: streamed.tabId,
              subscriptionId: null,
              held: true,
              background: false,
              expiresAt: NOW + 9,
              base: 0,
            },
          ]),
        );
        expect((await store.move(streamed.tabId, [streamed.id], subscription.id, 10)).ok).toBe(
          true,
        );
        const moved = (await store.listMembers(own.id)).find((m) => m.id === streamed.id);
        expect(moved?.subscriptionId).toBe(subscription.id);
        await store.deleteRegistration(pushed.id);
        expect((await store.listMembers(own.id)).map((m) => m.id)).toEqual([streamed.id]);
        expect(await store.listMembers(randomId())).toEqual([]);
      });

      it('deletes a group only once it has no member', async () => {
        const own = await withGroup();
        const member = reg(null, { groupId: own.id });
        await store.createRegistration(member, LIMITS);
        expect(await store.deleteGroup(own.id)).toBe(false);
        expect(await store.getGroup(own.id)).not.toBeNull();

        await store.deleteRegistration(member.id);
        expect(await store.deleteGroup(own.id)).toBe(true);
        expect(await store.getGroup(own.id)).toBeNull();
        expect(await append(own.id, next(1))).toEqual({ ok: false, reason: 'gone' });
        expect(await store.deleteGroup(own.id)).toBe(false);
      });

      it('deletes a done group with its log when its last member leaves', async () => {
        const own = await withGroup();
        const members = [1, 2].map(() => reg(null, { groupId: own.id }));
        for (const r of members) await store.createRegistration(r, LIMITS);
        await append(own.id, { type: 'complete' });
        await store.deleteRegistration(members[0]?.id as string);
        expect(await store.getGroup(own.id)).not.toBeNull();
        await store.takeExpired(NOW + 60_000);
        expect(await store.getGroup(own.id)).toBeNull();
      });
    });

    describe('group log', () => {
      it('numbers messages contiguously from 1, stores each once and keeps them in order', async () => {
        const own = await withGroup();
        const record = reg(null, { groupId: own.id });
        await store.createRegistration(record, LIMITS);
        const results = [];
        for (const n of [10, 20, 30]) results.push(await append(own.id, next(n)));
        expect(results).toEqual([1, 2, 3].map((seq) => ({ ok: true, seq })));
        const stored = await store.getMessages(record.id, 0, 10);
        expect(stored.map((e) => e.payload)).toEqual([{ data: 10 }, { data: 20 }, { data: 30 }]);
        expect((await store.getRegistration(record.id))?.seq).toBe(3);
      });

      it('gives distinct, contiguous seqs to concurrent appends', async () => {
        const own = await withGroup();
        const record = reg(null, { groupId: own.id });
        await store.createRegistration(record, LIMITS);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, n) => append(own.id, next(n))),
        );
        const got = results.map((r) => (r.ok ? r.seq : -1)).sort((x, y) => x - y);
        expect(got).toEqual(Array.from({ length: 20 }, (_, n) => n + 1));
        expect(seqs(await store.getMessages(record.id, 0, 100))).toEqual(got);
      });

      for (const type of ['complete', 'error'] as const) {
        it(`marks the group and its members done after "${type}" and refuses further messages`, async () => {
          const own = await withGroup();
          const record = reg(null, { groupId: own.id });
          await store.createRegistration(record, LIMITS);
          const payload = type === 'error' ? { errors: [{ message: 'no' }] } : undefined;
          expect(await append(own.id, { type, ...(payload ? { payload } : {}) })).toEqual({
            ok: true,
            seq: 1,
          });
          expect(await store.getRegistration(record.id)).toMatchObject({ done: true, seq: 1 });
          expect(await append(own.id, next(2))).toEqual({ ok: false, reason: 'done' });
          const [last] = await store.getMessages(record.id, 0, 10);
          expect(last).toMatchObject({ seq: 1, type, ...(payload ? { payload } : {}) });
        });
      }

      it('advances the event cursor in the same step as the append', async () => {
        const own = await withGroup();
        await store.appendGroupMessage(own.id, next(1), KEEP_ALL, { token, cursor: '1-0' });
        expect((await store.getGroup(own.id))?.cursor).toBe('1-0');
        await append(own.id, next(2));
        expect((await store.getGroup(own.id))?.cursor).toBe('1-0');
      });

      it('keeps at most maxMessages, dropping the oldest', async () => {
        const own = await withGroup();
        const record = reg(null, { groupId: own.id });
        await store.createRegistration(record, LIMITS);
        const retention = { messageTtlMs: 3_600_000, maxMessages: 2 };
        for (const n of [1, 2, 3]) await append(own.id, next(n), retention);
        expect(seqs(await store.getMessages(record.id, 0, 10))).toEqual([2, 3]);
      });

      it('drops messages older than messageTtlMs', async () => {
        const own = await withGroup();
        const record = reg(null, { groupId: own.id });
        await store.createRegistration(record, LIMITS);
        const retention = { messageTtlMs: 40, maxMessages: 100 };
        await append(own.id, next(1), retention);
        await sleep(120);
        await append(own.id, next(2), retention);
        expect(seqs(await store.getMessages(record.id, 0, 10))).toEqual([2]);
      });

      it('drops a message once every member acknowledged it, and keeps it while one has not', async () => {
        const own = await withGroup();
        const [a, b] = [1, 2].map(() => reg(null, { groupId: own.id })) as [
          RegistrationRecord,
          RegistrationRecord,
        ];
        for (const r of [a, b]) await store.createRegistration(r, LIMITS);
        for (const n of [1, 2, 3]) await append(own.id, next(n));
        await store.renew(a.tabId, [{ registrationId: a.id, ackedSeq: 3 }], NOW + 1);
        expect(seqs(await store.getMessages(b.id, 0, 10))).toEqual([1, 2, 3]);
        await store.renew(b.tabId, [{ registrationId: b.id, ackedSeq: 2 }], NOW + 1);
        expect(seqs(await store.getMessages(b.id, 0, 10))).toEqual([3]);
        await store.deleteRegistration(b.id);
        await append(own.id, next(4));
        expect(seqs(await store.getMessages(a.id, 0, 10))).toEqual([4]);
      });

      it('returns messages after a seq, at most `limit`', async () => {
        const record = await withRegistration();
        for (const n of [1, 2, 3, 4]) await append(record.groupId, next(n));
        expect(seqs(await store.getMessages(record.id, 1, 2))).toEqual([2, 3]);
        expect(seqs(await store.getMessages(record.id, 4, 10))).toEqual([]);
        expect(await store.getMessages(randomId(), 0, 10)).toEqual([]);
      });

      it('refuses an append under another token and keeps the log unchanged', async () => {
        const own = await withGroup();
        expect(
          await store.appendGroupMessage(own.id, next(1), KEEP_ALL, { token: token + 1 }),
        ).toEqual({ ok: false, reason: 'fenced' });
        expect((await store.getGroup(own.id))?.seq).toBe(0);
      });

      it('applies an append once when it is repeated with the same appendId', async () => {
        const own = await withGroup();
        const record = reg(null, { groupId: own.id });
        await store.createRegistration(record, LIMITS);
        const options = { token, appendId: 'x1', cursor: '5-0' };
        const first = await store.appendGroupMessage(own.id, next('a'), KEEP_ALL, options);
        const again = await store.appendGroupMessage(own.id, next('a'), KEEP_ALL, options);
        expect(first).toEqual({ ok: true, seq: 1 });
        expect(again).toEqual(first);
        expect(seqs(await store.getMessages(record.id, 0, 10))).toEqual([1]);
        const other = await store.appendGroupMessage(own.id, next('a'), KEEP_ALL, {
          token,
          appendId: 'x2',
        });
        expect(other).toEqual({ ok: true, seq: 2 });
      });

      it('answers a repeated final append as applied, not as done', async () => {
        const own = await withGroup();
        const options = { token, appendId: 'end' };
        const first = await store.appendGroupMessage(
          own.id,
          { type: 'complete' },
          KEEP_ALL,
          options,
        );
        expect(
          await store.appendGroupMessage(own.id, { type: 'complete' }, KEEP_ALL, options),
        ).toEqual(first);
        expect(await append(own.id, { type: 'complete' })).toEqual({ ok: false, reason: 'done' });
      });
    });

    describe('ownership', () => {
      const mine = (orphans: { groupId: string }[], groups: GroupRecord[]) =>
        orphans
          .filter((orphan) => groups.some((g) => g.id === orphan.groupId))
          .map((orphan) => orphan.groupId)
          .sort();

      it('keeps an instance’s token across heartbeats, and gives a new instance a larger one', async () => {
        const other = `instance-${randomId()}`;
        expect(await store.heartbeat(owner, 1_000, NOW + 10)).toBe(token);
        const second = await store.heartbeat(other, 1_000, NOW);
        expect(second).toBeGreaterThan(token);
        expect(await store.heartbeat(other, 1_000, NOW + 5_000)).toBe(second);
      });

      it('lists the groups of an instance whose lease ended, and only those', async () => {
        const dying = `instance-${randomId()}`;
        const dyingToken = await store.heartbeat(dying, 1_000, NOW);
        const orphaned = [group(dying, dyingToken), group(dying, dyingToken)];
        for (const g of orphaned) await store.createGroup(g);
        await store.heartbeat(owner, 1_000, NOW);

        expect(mine(await store.listOrphans(NOW + 999, 100), [...orphaned, shared])).toEqual([]);
        const orphans = await store.listOrphans(NOW + 1_000, 100);
        expect(mine(orphans, [...orphaned, shared])).toEqual(
          [...orphaned.map((g) => g.id), shared.id].sort(),
        );
        expect(orphans.find((o) => o.groupId === orphaned[0]?.id)?.token).toBe(dyingToken);
        // A heartbeat in time keeps them.
        await store.heartbeat(dying, 5_000, NOW + 1_000);
        await store.heartbeat(owner, 5_000, NOW + 1_000);
        expect(mine(await store.listOrphans(NOW + 2_000, 100), [...orphaned, shared])).toEqual([]);
      });

      it('lets exactly one claim win, fences the old owner, and stops listing the group', async () => {
        const dying = `instance-${randomId()}`;
        const dyingToken = await store.heartbeat(dying, 1_000, NOW);
        const orphan = group(dying, dyingToken, { cursor: '4-0' });
        await store.createGroup(orphan);
        const member = reg(null, { groupId: orphan.id });
        await store.createRegistration(member, LIMITS);
        await store.appendGroupMessage(orphan.id, next(1), KEEP_ALL, { token: dyingToken });
        const [b, c] = [`instance-${randomId()}`, `instance-${randomId()}`];
        const tokenB = await store.heartbeat(b, 60_000, NOW + 2_000);
        const tokenC = await store.heartbeat(c, 60_000, NOW + 2_000);

        const claims = await Promise.all([
          store.claimGroup(orphan.id, dyingToken, b, tokenB),
          store.claimGroup(orphan.id, dyingToken, c, tokenC),
        ]);
        const won = claims.filter((claim) => claim !== null);
        expect(won).toHaveLength(1);
        expect(won[0]).toMatchObject({ id: orphan.id, seq: 1, cursor: '4-0' });
        const winner = won[0] as GroupRecord;
        expect([b, c]).toContain(winner.owner);

        expect(
          await store.appendGroupMessage(orphan.id, next(2), KEEP_ALL, { token: dyingToken }),
        ).toEqual({ ok: false, reason: 'fenced' });
        expect(
          await store.appendGroupMessage(orphan.id, next(2), KEEP_ALL, { token: winner.token }),
        ).toEqual({ ok: true, seq: 2 });
        expect(mine(await store.listOrphans(NOW + 2_000, 100), [orphan])).toEqual([]);
        expect(await store.claimGroup(orphan.id, dyingToken, b, tokenB)).toBeNull();
      });

      it('makes a released instance’s groups orphans at once', async () => {
        const leaving = `instance-${randomId()}`;
        const leavingToken = await store.heartbeat(leaving, 60_000, NOW);
        const owned = group(leaving, leavingToken);
        await store.createGroup(owned);
        expect(mine(await store.listOrphans(NOW, 100), [owned])).toEqual([]);
        await store.releaseInstance(leaving);
        expect(mine(await store.listOrphans(NOW, 100), [owned])).toEqual([owned.id]);
      });

      it('forgets an instance once all its groups are claimed; it then gets a new token', async () => {
        const gone = `instance-${randomId()}`;
        const goneToken = await store.heartbeat(gone, 1_000, NOW);
        const owned = group(gone, goneToken);
        await store.createGroup(owned);
        const claimed = await store.claimGroup(owned.id, goneToken, owner, token);
        expect(claimed).toMatchObject({ owner, token });
        await store.listOrphans(NOW + 5_000, 100);
        const again = await store.heartbeat(gone, 1_000, NOW + 5_000);
        expect(again).toBeGreaterThan(goneToken);
      });

      it('lists at most `limit` orphans', async () => {
        const dying = `instance-${randomId()}`;
        const dyingToken = await store.heartbeat(dying, 1, NOW);
        for (let i = 0; i < 5; i += 1) await store.createGroup(group(dying, dyingToken));
        expect((await store.listOrphans(NOW + 10, 3)).length).toBeLessThanOrEqual(3);
        expect(await store.listOrphans(NOW + 10, 0)).toEqual([]);
      });
    });
  });
}
