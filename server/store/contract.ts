import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Envelope, envelopeId, type PushSubscriptionData } from '../../protocol/index.js';
import { randomId } from '../ids.js';
import type { RegistrationRecord, RetentionOptions, Store } from './types.js';

const KEEP_ALL: RetentionOptions = { messageTtlMs: 3_600_000, maxMessages: 1000 };
const LIMITS = { maxPerTab: 50, maxPerSubscription: 200 };
// Push subscriptions expire by the wall clock (Redis TTLs), so times are real ones.
const NOW = Date.now();
const TTL = 60_000;

function subscriptionData(keys = { p256dh: 'BPublicKey', auth: 'AuthSecret' }) {
  return {
    endpoint: `https://push.example/${randomId()}`,
    keys,
  } satisfies PushSubscriptionData;
}

function registration(
  subscriptionId: string | null,
  overrides: Partial<RegistrationRecord> = {},
): RegistrationRecord {
  return {
    id: randomId(),
    tabId: `tab-${randomId()}`,
    subscriptionId,
    held: false,
    background: false,
    clientKey: null,
    operationKey: '42',
    query: 'subscription { ticks }',
    operationName: null,
    variables: { productId: 'p1' },
    headers: { authorization: 'Bearer t' },
    createdAt: NOW,
    expiresAt: NOW + 60_000,
    seq: 0,
    ackedSeq: 0,
    done: false,
    cursor: null,
    ...overrides,
  };
}

function next(reg: RegistrationRecord, data: unknown): (seq: number) => Envelope {
  return (seq) => ({
    v: 1,
    id: envelopeId(reg.id, seq),
    tab: reg.tabId,
    reg: reg.id,
    seq,
    type: 'next',
    payload: { data },
  });
}

function ofType(reg: RegistrationRecord, type: Envelope['type']): (seq: number) => Envelope {
  return (seq) => ({ v: 1, id: envelopeId(reg.id, seq), tab: reg.tabId, reg: reg.id, seq, type });
}

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

    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await cleanup?.(store);
    });

    const withSubscription = async () =>
      store.putSubscription(subscriptionData(), randomId(), NOW, TTL);

    const withRegistration = async (overrides: Partial<RegistrationRecord> = {}) => {
      const subscription = await withSubscription();
      const record = registration(subscription.id, overrides);
      expect(await store.createRegistration(record, LIMITS)).toEqual({ ok: true });
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
        const reg = registration(old.id);
        await store.createRegistration(reg, LIMITS);
        const replaced = await store.putSubscription(
          { endpoint: data.endpoint, keys: { p256dh: 'BOtherKey', auth: 'OtherAuth' } },
          randomId(),
          NOW + 1,
          TTL,
        );
        expect(replaced.id).not.toBe(old.id);
        expect(replaced.keys).toEqual({ p256dh: 'BOtherKey', auth: 'OtherAuth' });
        expect(await store.getSubscription(old.id)).toBeNull();
        expect(await store.getRegistration(reg.id)).toEqual({ ...reg, subscriptionId: null });
      });

      it('returns null for an unknown subscription id', async () => {
        expect(await store.getSubscription(randomId())).toBeNull();
      });

      it('deletes a subscription; its registrations stay, with their logs, on the stream', async () => {
        const subscription = await withSubscription();
        const a = registration(subscription.id);
        const b = registration(subscription.id);
        await store.createRegistration(a, LIMITS);
        await store.createRegistration(b, LIMITS);
        await store.appendMessage(a.id, next(a, 1), KEEP_ALL);
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
        const record = registration(used.id, { expiresAt: Date.now() + 60_000 });
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
        const record = registration(null);
        expect(await store.createRegistration(record, LIMITS)).toEqual({ ok: true });
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
        const record = registration(randomId());
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
        const [a, b, c] = [1, 2, 3].map(() => registration(subscription.id, { tabId })) as [
          RegistrationRecord,
          RegistrationRecord,
          RegistrationRecord,
        ];
        expect(await store.createRegistration(a, limits)).toEqual({ ok: true });
        expect(await store.createRegistration(b, limits)).toEqual({ ok: true });
        expect(await store.createRegistration(c, limits)).toEqual({
          ok: false,
          reason: 'tab-limit',
        });
        expect((await store.listByTab(tabId)).map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
      });

      it('refuses the registration past the per-subscription limit', async () => {
        const subscription = await withSubscription();
        const limits = { maxPerTab: 10, maxPerSubscription: 2 };
        const records = [1, 2, 3].map(() => registration(subscription.id));
        const results = [];
        for (const record of records) results.push(await store.createRegistration(record, limits));
        expect(results).toEqual([
          { ok: true },
          { ok: true },
          { ok: false, reason: 'subscription-limit' },
        ]);
        expect(await store.listBySubscription(subscription.id)).toHaveLength(2);
      });

      it('enforces the limit under concurrent inserts (exactly maxPerTab succeed)', async () => {
        const subscription = await withSubscription();
        const tabId = `tab-${randomId()}`;
        const records = Array.from({ length: 10 }, () => registration(subscription.id, { tabId }));
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
        await store.appendMessage(record.id, next(record, 1), KEEP_ALL);
        expect(await store.deleteRegistration(record.id)).toBe(true);
        expect(await store.getRegistration(record.id)).toBeNull();
        expect(await store.getMessages(record.id, 0, 10)).toEqual([]);
        expect(await store.listByTab(record.tabId)).toEqual([]);
        expect(await store.deleteRegistration(record.id)).toBe(false);
      });

      it('takes exactly the registrations expired at `now`, once', async () => {
        const subscription = await withSubscription();
        const early = registration(subscription.id, { expiresAt: NOW + 10 });
        const atNow = registration(subscription.id, { expiresAt: NOW + 20 });
        const later = registration(subscription.id, { expiresAt: NOW + 21 });
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
        for (const n of [1, 2, 3]) await store.appendMessage(record.id, next(record, n), KEEP_ALL);

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
        for (const n of [1, 2]) await store.appendMessage(record.id, next(record, n), KEEP_ALL);
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
        const data = registration(subscription.id, { tabId });
        const background = registration(subscription.id, { tabId, background: true });
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
        const a = registration(mine.id, { clientKey: client });
        const b = registration(null, { clientKey: client });
        const c = registration(null);
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
        const a = registration(null, { tabId });
        const b = registration(null, { tabId });
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
        const already = registration(target.id);
        await store.createRegistration(already, LIMITS);
        const tabId = `tab-${randomId()}`;
        const records = [1, 2, 3].map(() => registration(null, { tabId }));
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
        const record = registration(null);
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

    describe('message log', () => {
      it('numbers messages contiguously from 1 and keeps them in order', async () => {
        const record = await withRegistration();
        const results = [];
        for (const n of [10, 20, 30]) {
          results.push(await store.appendMessage(record.id, next(record, n), KEEP_ALL));
        }
        expect(results.map((r) => (r.ok ? r.envelope.seq : -1))).toEqual([1, 2, 3]);
        expect(results[0]).toEqual({
          ok: true,
          envelope: {
            v: 1,
            id: `${record.id}:1`,
            tab: record.tabId,
            reg: record.id,
            seq: 1,
            type: 'next',
            payload: { data: 10 },
          },
        });
        const stored = await store.getMessages(record.id, 0, 10);
        expect(stored.map((e) => e.payload)).toEqual([{ data: 10 }, { data: 20 }, { data: 30 }]);
        expect((await store.getRegistration(record.id))?.seq).toBe(3);
      });

      it('gives distinct, contiguous seqs to concurrent appends', async () => {
        const record = await withRegistration();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, n) =>
            store.appendMessage(record.id, next(record, n), KEEP_ALL),
          ),
        );
        const got = results.map((r) => (r.ok ? r.envelope.seq : -1)).sort((a, b) => a - b);
        expect(got).toEqual(Array.from({ length: 20 }, (_, n) => n + 1));
        expect(seqs(await store.getMessages(record.id, 0, 100))).toEqual(got);
      });

      it('refuses to append to an unknown registration', async () => {
        const reg = registration(randomId());
        expect(await store.appendMessage(reg.id, next(reg, 1), KEEP_ALL)).toEqual({
          ok: false,
          reason: 'gone',
        });
      });

      for (const type of ['complete', 'error'] as const) {
        it(`marks the registration done after "${type}" and refuses further messages`, async () => {
          const record = await withRegistration();
          const last = await store.appendMessage(record.id, ofType(record, type), KEEP_ALL);
          expect(last.ok && last.envelope.type).toBe(type);
          expect((await store.getRegistration(record.id))?.done).toBe(true);
          expect(await store.appendMessage(record.id, next(record, 2), KEEP_ALL)).toEqual({
            ok: false,
            reason: 'done',
          });
          expect(seqs(await store.getMessages(record.id, 0, 10))).toEqual([1]);
        });
      }

      it('advances the event cursor in the same step as the append', async () => {
        const record = await withRegistration();
        await store.appendMessage(record.id, next(record, 1), KEEP_ALL, { cursor: '1-0' });
        expect((await store.getRegistration(record.id))?.cursor).toBe('1-0');
        await store.appendMessage(record.id, next(record, 2), KEEP_ALL);
        expect((await store.getRegistration(record.id))?.cursor).toBe('1-0');
      });

      it('keeps at most maxMessages, dropping the oldest', async () => {
        const record = await withRegistration();
        const retention = { messageTtlMs: 3_600_000, maxMessages: 2 };
        for (const n of [1, 2, 3]) await store.appendMessage(record.id, next(record, n), retention);
        expect(seqs(await store.getMessages(record.id, 0, 10))).toEqual([2, 3]);
      });

      it('drops messages older than messageTtlMs', async () => {
        const record = await withRegistration();
        const retention = { messageTtlMs: 40, maxMessages: 100 };
        await store.appendMessage(record.id, next(record, 1), retention);
        await sleep(120);
        await store.appendMessage(record.id, next(record, 2), retention);
        expect(seqs(await store.getMessages(record.id, 0, 10))).toEqual([2]);
      });

      it('returns messages after a seq, at most `limit`', async () => {
        const record = await withRegistration();
        for (const n of [1, 2, 3, 4]) {
          await store.appendMessage(record.id, next(record, n), KEEP_ALL);
        }
        expect(seqs(await store.getMessages(record.id, 1, 2))).toEqual([2, 3]);
        expect(seqs(await store.getMessages(record.id, 4, 10))).toEqual([]);
        expect(await store.getMessages(randomId(), 0, 10)).toEqual([]);
      });
    });

    describe('leases', () => {
      it('lets one owner hold a lease until it expires, then hands a larger token to the next', async () => {
        const record = await withRegistration();
        const first = await store.acquireLease(record.id, 'a', 1000, NOW);
        expect(first).toEqual(expect.any(Number));
        expect(await store.acquireLease(record.id, 'b', 1000, NOW + 999)).toBeNull();
        const second = await store.acquireLease(record.id, 'b', 1000, NOW + 1000);
        expect(second).toEqual(expect.any(Number));
        expect(second as number).toBeGreaterThan(first as number);
      });

      it('extends the holder’s lease with the same token', async () => {
        const record = await withRegistration();
        const token = await store.acquireLease(record.id, 'a', 1000, NOW);
        expect(await store.acquireLease(record.id, 'a', 1000, NOW + 900)).toBe(token);
        expect(await store.acquireLease(record.id, 'b', 1000, NOW + 1500)).toBeNull();
      });

      it('frees a released lease at once; a release by another owner does nothing', async () => {
        const record = await withRegistration();
        const token = await store.acquireLease(record.id, 'a', 1000, NOW);
        await store.releaseLease(record.id, 'b');
        expect(await store.acquireLease(record.id, 'b', 1000, NOW + 1)).toBeNull();
        await store.releaseLease(record.id, 'a');
        const next = await store.acquireLease(record.id, 'b', 1000, NOW + 1);
        expect(next as number).toBeGreaterThan(token as number);
      });

      it('gives no lease on an unknown registration', async () => {
        expect(await store.acquireLease(randomId(), 'a', 1000, NOW)).toBeNull();
      });

      it('refuses an append fenced by a newer lease and keeps the log unchanged', async () => {
        const record = await withRegistration();
        const old = (await store.acquireLease(record.id, 'a', 1000, NOW)) as number;
        const current = (await store.acquireLease(record.id, 'b', 1000, NOW + 1000)) as number;

        expect(
          await store.appendMessage(record.id, next(record, 1), KEEP_ALL, { fencingToken: old }),
        ).toEqual({ ok: false, reason: 'fenced' });
        expect((await store.getRegistration(record.id))?.seq).toBe(0);

        const accepted = await store.appendMessage(record.id, next(record, 1), KEEP_ALL, {
          fencingToken: current,
          cursor: '7-0',
        });
        expect(accepted.ok && accepted.envelope.seq).toBe(1);
        expect(await store.getRegistration(record.id)).toMatchObject({ seq: 1, cursor: '7-0' });
      });
    });

    describe('repeated appends', () => {
      it('applies an append once when it is repeated with the same appendId', async () => {
        const record = await withRegistration();
        const first = await store.appendMessage(record.id, next(record, 'a'), KEEP_ALL, {
          appendId: 'x1',
          cursor: '5-0',
        });
        const again = await store.appendMessage(record.id, next(record, 'a'), KEEP_ALL, {
          appendId: 'x1',
          cursor: '5-0',
        });
        expect(again).toEqual(first);
        expect(first.ok && first.envelope.seq).toBe(1);
        expect(seqs(await store.getMessages(record.id, 0, 10))).toEqual([1]);

        const other = await store.appendMessage(record.id, next(record, 'a'), KEEP_ALL, {
          appendId: 'x2',
        });
        expect(other.ok && other.envelope.seq).toBe(2);
        expect(seqs(await store.getMessages(record.id, 0, 10))).toEqual([1, 2]);
      });

      it('answers a repeated final append as applied, not as done', async () => {
        const record = await withRegistration();
        const options = { appendId: 'end' };
        const first = await store.appendMessage(
          record.id,
          ofType(record, 'complete'),
          KEEP_ALL,
          options,
        );
        expect(
          await store.appendMessage(record.id, ofType(record, 'complete'), KEEP_ALL, options),
        ).toEqual(first);
        expect(await store.appendMessage(record.id, ofType(record, 'complete'), KEEP_ALL)).toEqual({
          ok: false,
          reason: 'done',
        });
      });
    });

    describe('unowned registrations', () => {
      it('lists exactly the registrations whose lease was never taken, released or expired', async () => {
        const [fresh, released, expired, held, done, deleted] = await Promise.all(
          Array.from({ length: 6 }, () => withRegistration()),
        );
        const ids = (list: (RegistrationRecord | undefined)[]) =>
          list.map((record) => record?.id as string).sort();
        for (const record of [released, expired, held, deleted]) {
          await store.acquireLease(record?.id as string, 'a', 1000, NOW);
        }
        await store.releaseLease(released?.id as string, 'a');
        await store.acquireLease(held?.id as string, 'a', 5000, NOW + 500);
        await store.appendMessage(
          done?.id as string,
          ofType(done as RegistrationRecord, 'complete'),
          KEEP_ALL,
        );
        await store.deleteRegistration(deleted?.id as string);

        expect((await store.listUnowned(NOW + 999, 100)).sort()).toEqual(ids([fresh, released]));
        expect((await store.listUnowned(NOW + 1000, 100)).sort()).toEqual(
          ids([fresh, released, expired]),
        );
        // Listing changes nothing: the same answer again, and every lease still works as before.
        expect((await store.listUnowned(NOW + 1000, 100)).sort()).toEqual(
          ids([fresh, released, expired]),
        );
        expect(await store.acquireLease(held?.id as string, 'b', 1000, NOW + 1000)).toBeNull();
      });

      it('stops listing a registration once a lease on it is taken again', async () => {
        const record = await withRegistration();
        expect(await store.listUnowned(NOW, 100)).toEqual([record.id]);
        await store.acquireLease(record.id, 'b', 1000, NOW);
        expect(await store.listUnowned(NOW, 100)).toEqual([]);
        await store.releaseLease(record.id, 'b');
        expect(await store.listUnowned(NOW, 100)).toEqual([record.id]);
      });

      it('lists at most `limit` ids', async () => {
        await Promise.all(Array.from({ length: 5 }, () => withRegistration()));
        expect(await store.listUnowned(NOW, 3)).toHaveLength(3);
        expect(await store.listUnowned(NOW, 0)).toEqual([]);
      });
    });
  });
}
