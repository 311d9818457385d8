import type { ExecutionResult } from 'graphql';
import { createLogger } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { randomId } from '../ids.js';
import type { PushTarget, SendOptions, SendResult } from '../push/index.js';
import { SEND_WITH_LISTENER, type SendListener } from '../push/send-listener.js';
import { createMemoryStore } from '../store/memory.js';
import type { GroupRecord, RegistrationRecord, Store } from '../store/types.js';
import { createBrowserKeys, createRecordingSender, type RecordingSender } from '../test-support.js';
import { createDelivery } from './delivery.js';
import { createGroupRunner, type GroupRunner } from './runner.js';

const waitFor = <T>(check: () => T | Promise<T>) =>
  vi.waitFor(check, { timeout: 2_000, interval: 5 });

/** A result stream the test feeds by hand, counting `return` calls. */
function createFeed() {
  const waiting: ((step: Promise<IteratorResult<ExecutionResult>>) => void)[] = [];
  const queued: Promise<IteratorResult<ExecutionResult>>[] = [];
  const feed = {
    returned: 0,
    deliver(step: Promise<IteratorResult<ExecutionResult>>) {
      const resolve = waiting.shift();
      if (resolve) resolve(step);
      else queued.push(step);
    },
    push: (value: ExecutionResult) => feed.deliver(Promise.resolve({ done: false, value })),
    end: () => feed.deliver(Promise.resolve({ done: true, value: undefined })),
    fail: (error: Error) => feed.deliver(Promise.reject(error)),
    iterator: {
      next: () => {
        const step = queued.shift();
        if (step) return step;
        return new Promise<IteratorResult<ExecutionResult>>((resolve) =>
          waiting.push((s) => resolve(s)),
        );
      },
      return: async () => {
        feed.returned += 1;
        for (const resolve of waiting.splice(0)) {
          resolve(Promise.resolve({ done: true, value: undefined }));
        }
        return { done: true as const, value: undefined };
      },
    } satisfies AsyncIterator<ExecutionResult>,
  };
  return feed;
}

const RETENTION = { messageTtlMs: 60_000, maxMessages: 100 };
const LIMITS = { maxPerTab: 10, maxPerSubscription: 10 };
const OWNER = 'instance-a';

let runner: GroupRunner | undefined;

/** A runner on `store` whose deliveries go to `sender`, silent, with the suite's retention. */
function createTestRunner(
  store: Store,
  sender: RecordingSender,
  extra: Partial<Parameters<typeof createGroupRunner>[0]> = {},
): GroupRunner {
  const logger = createLogger('silent');
  return createGroupRunner({
    store,
    sender,
    delivery: createDelivery({
      store,
      sender,
      maxPayloadBytes: 3072,
      ttlSeconds: 60,
      topics: true,
      logger,
    }),
    retention: RETENTION,
    logger,
    ...extra,
  });
}
afterEach(async () => {
  await runner?.close();
  runner = undefined;
});

interface Setup {
  store: Store;
  sender: RecordingSender;
  group: GroupRecord;
  feed: ReturnType<typeof createFeed>;
  runner: GroupRunner;
  /** Adds a member on a new tab; on the browser `subscriptionId` (the first one by default). */
  member(options?: { subscriptionId?: string | null; tabId?: string }): Promise<RegistrationRecord>;
  /** A second browser's push subscription. */
  browser(): Promise<string>;
}

async function setup(
  options: { store?: Store; sender?: RecordingSender & { ready?: () => Promise<void> } } = {},
): Promise<Setup> {
  const store = options.store ?? createMemoryStore();
  const sender = options.sender ?? createRecordingSender();
  const token = await store.heartbeat(OWNER, 60_000, Date.now());
  const browser = async () =>
    (
      await store.putSubscription(
        { endpoint: `http://127.0.0.1:9999/push/${randomId()}`, keys: createBrowserKeys() },
        randomId(),
        Date.now(),
        60_000,
      )
    ).id;
  const first = await browser();
  const group: GroupRecord = {
    id: randomId(),
    key: randomId(),
    query: 'subscription { n }',
    operationName: null,
    variables: null,
    headers: {},
    createdAt: Date.now(),
    seq: 0,
    done: false,
    cursor: null,
    owner: OWNER,
    token,
  };
  await store.createGroup(group);
  const member: Setup['member'] = async ({ subscriptionId = first, tabId = randomId() } = {}) => {
    const record: RegistrationRecord = {
      id: randomId(),
      tabId,
      subscriptionId,
      held: false,
      background: false,
      clientKey: null,
      operationKey: '1',
      groupId: group.id,
      base: 0,
      headers: {},
      createdAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      seq: 0,
      ackedSeq: 0,
      done: false,
    };
    const created = await store.createRegistration(record, LIMITS);
    if (!created.ok) throw new Error(created.reason);
    return { ...record, base: created.base };
  };
  runner = createTestRunner(store, sender, { retryBaseMs: 1, retryMaxMs: 2 });
  const feed = createFeed();
  return { store, sender, group, feed, runner, member, browser };
}

const envelopesOf = (sender: RecordingSender, registrationId: string) =>
  sender.sent.flatMap((m) => m.envelopes.filter((e) => e.reg === registrationId));
const seqAndData = (sender: RecordingSender, registrationId: string) =>
  envelopesOf(sender, registrationId).map((e) => [e.seq, (e.payload as { data: unknown }).data]);

describe('group runner: members', () => {
  it('gives a member that joins a running group its own seq 1, with no earlier event', async () => {
    const { sender, group, feed, runner, member, store } = await setup();
    const early = await member();
    runner.start(group, feed.iterator);
    for (const n of [1, 2]) feed.push({ data: { n } });
    await waitFor(() => expect(envelopesOf(sender, early.id)).toHaveLength(2));

    const late = await member({ subscriptionId: null });
    expect(late.base).toBe(2);
    feed.push({ data: { n: 3 } });

    await waitFor(() => expect(envelopesOf(sender, early.id)).toHaveLength(3));
    expect(seqAndData(sender, early.id)).toEqual([
      [1, { n: 1 }],
      [2, { n: 2 }],
      [3, { n: 3 }],
    ]);
    const lateLog = await store.getMessages(late.id, 0, 10);
    expect(lateLog.map((e) => [e.seq, e.id, (e.payload as { data: unknown }).data])).toEqual([
      [1, `${late.id}:1`, { n: 3 }],
    ]);
    // One execution served both.
    expect(feed.returned).toBe(0);
  });

  it('goes on for the others when one member leaves, and stops once the last one left', async () => {
    const { sender, group, feed, runner, member, store } = await setup();
    const [a, b] = [await member(), await member()];
    runner.start(group, feed.iterator);
    feed.push({ data: { n: 1 } });
    await waitFor(() => expect(envelopesOf(sender, b.id)).toHaveLength(1));

    await store.deleteRegistration(a.id);
    feed.push({ data: { n: 2 } });
    await waitFor(() => expect(envelopesOf(sender, b.id)).toHaveLength(2));
    expect(seqAndData(sender, b.id)).toEqual([
      [1, { n: 1 }],
      [2, { n: 2 }],
    ]);
    expect(envelopesOf(sender, a.id)).toHaveLength(1);
    expect(runner.isRunning(group.id)).toBe(true);

    await store.deleteRegistration(b.id);
    expect(await runner.retire(group.id)).toBe(true);
    expect(feed.returned).toBe(1);
    expect(runner.isRunning(group.id)).toBe(false);
    expect(await store.getGroup(group.id)).toBeNull();
  });

  it('keeps a group whose member joined while it was being retired', async () => {
    const { group, feed, runner, member, store } = await setup();
    runner.start(group, feed.iterator);
    expect(runner.byKey(group.key)?.id).toBe(group.id);
    const deleteGroup = store.deleteGroup.bind(store);
    // The join lands between the retirement's decision and its delete.
    store.deleteGroup = async (id) => {
      await member();
      return deleteGroup(id);
    };
    expect(await runner.retire(group.id)).toBe(false);
    expect(runner.isRunning(group.id)).toBe(true);
    expect(runner.byKey(group.key)?.id).toBe(group.id);
  });

  it('retires a group whose event finds no member left', async () => {
    const { group, feed, runner, store } = await setup();
    runner.start(group, feed.iterator);
    feed.push({ data: { n: 1 } });
    await waitFor(() => expect(feed.returned).toBe(1));
    expect(await store.getGroup(group.id)).toBeNull();
    expect(runner.byKey(group.key)).toBeUndefined();
  });
});

describe('group runner: delivery', () => {
  it('sends one push per browser carrying the envelopes of all its tabs, and one signal for the streams', async () => {
    const { sender, group, feed, runner, member, browser, store } = await setup();
    const [a, b] = [await member(), await member()];
    const other = await member({ subscriptionId: await browser() });
    const streamed = await member({ subscriptionId: null });
    const signals: string[] = [];
    store.listen(`g:${group.id}`, (message) => signals.push(message));
    runner.start(group, feed.iterator);

    feed.push({ data: { n: 7 } });

    await waitFor(() => expect(sender.sent).toHaveLength(2));
    const [first, second] = [a, other].map((r) =>
      sender.sent.find((m) => m.envelopes.some((e) => e.reg === r.id)),
    );
    expect(first?.envelopes.map((e) => [e.reg, e.seq, e.payload])).toEqual([
      [a.id, 1, { data: { n: 7 } }],
      [b.id, 1, { data: { n: 7 } }],
    ]);
    expect(second?.envelopes.map((e) => e.reg)).toEqual([other.id]);
    expect(first?.options.topic).not.toBe(second?.options.topic);
    await waitFor(() => expect(signals).toEqual([`G ${group.id} 1`]));
    expect((await store.getMessages(streamed.id, 0, 10)).map((e) => e.seq)).toEqual([1]);
  });

  it('sends references when the batch does not fit one push, in as few pushes as fit', async () => {
    const { sender, group, feed, runner, member } = await setup();
    const members = [];
    for (let i = 0; i < 10; i++) members.push(await member());
    runner.start(group, feed.iterator);

    feed.push({ data: { text: 'x'.repeat(1_000) } });

    await waitFor(() => expect(sender.sent).toHaveLength(1));
    const [push] = sender.sent;
    expect(push?.envelopes.map((e) => [e.reg, e.type, e.payload])).toEqual(
      members.map((m) => [m.id, 'ref', undefined]),
    );
    expect(push?.bytes).toBeLessThanOrEqual(3072);
  });

  it('holds a hidden tab’s data-only member and pushes the rest', async () => {
    const { sender, group, feed, runner, member, store } = await setup();
    const hidden = await member();
    const shown = await member();
    await store.renew(
      hidden.tabId,
      [{ registrationId: hidden.id, ackedSeq: 0 }],
      Date.now() + 60_000,
      {
        hidden: true,
      },
    );
    runner.start(group, feed.iterator);
    feed.push({ data: { n: 1 } });
    await waitFor(() => expect(sender.sent).toHaveLength(1));
    expect(sender.sent[0]?.envelopes.map((e) => e.reg)).toEqual([shown.id]);
    expect((await store.getMessages(hidden.id, 0, 10)).map((e) => e.seq)).toEqual([1]);
  });

  it('keeps at most maxPushesInFlight pushes of a message out, and pushes to every browser', async () => {
    const sender = createRecordingSender();
    let out = 0;
    let most = 0;
    const answers: (() => void)[] = [];
    sender.answer(() => {
      out += 1;
      most = Math.max(most, out);
      return new Promise<SendResult>((resolve) => {
        answers.push(() => {
          out -= 1;
          resolve({ ok: true, status: 201, attempts: 1 });
        });
      });
    });
    const { store, group, member, browser } = await setup({ sender });
    const members = [await member()];
    for (let i = 0; i < 9; i++) members.push(await member({ subscriptionId: await browser() }));
    const delivery = createDelivery({
      store,
      sender,
      maxPayloadBytes: 3072,
      ttlSeconds: 60,
      topics: false,
      logger: createLogger('silent'),
      maxPushesInFlight: 3,
    });

    const delivered = delivery.deliver(group.id, 1, { type: 'next', payload: { n: 1 } }, 0);
    // Answered one at a time, as a push service would: each answer lets the next push out.
    while (sender.sent.length < 10 || answers.length > 0) {
      await new Promise((resolve) => setImmediate(resolve));
      answers.shift()?.();
    }

    expect(await delivered).toEqual({ members: 10, pushes: 10 });
    expect(most).toBe(3);
    expect(new Set(sender.sent.map((m) => m.envelope.reg))).toEqual(
      new Set(members.map((m) => m.id)),
    );
  });

  it('goes on pushing to the other browsers when the sender throws for one', async () => {
    const recording = createRecordingSender();
    let broken: string | undefined;
    const sender: RecordingSender = {
      ...recording,
      send(target, plaintext, options) {
        if (target.endpoint === broken) throw new Error('a sender bug');
        return recording.send(target, plaintext, options);
      },
    };
    const { group, feed, runner, member, browser, store } = await setup({ sender });
    const first = await member();
    const second = await member({ subscriptionId: await browser() });
    broken = (await store.getSubscription(first.subscriptionId as string))?.endpoint;
    runner.start(group, feed.iterator);

    feed.push({ data: { n: 1 } });
    feed.push({ data: { n: 2 } });

    await waitFor(() =>
      expect(recording.sent.map((m) => [m.envelope.reg, m.envelope.seq])).toEqual([
        [second.id, 1],
        [second.id, 2],
      ]),
    );
    // Not deleted: a throw is not the push service's answer, and the log keeps the events.
    expect(await store.getSubscription(first.subscriptionId as string)).not.toBeNull();
    expect((await store.getMessages(first.id, 0, 10)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('sends through the sender’s listener form when it has one: outcomes as with send', async () => {
    const recording = createRecordingSender();
    let failing: string | undefined;
    let byListener = 0;
    const sender = {
      ...recording,
      send(): never {
        throw new Error('the listener form is there: send is not used');
      },
      [SEND_WITH_LISTENER]<T>(
        target: PushTarget,
        plaintext: Uint8Array,
        options: SendOptions,
        listener: SendListener<T>,
        tag: T,
      ) {
        byListener += 1;
        if (target.endpoint === failing) {
          queueMicrotask(() => listener.failed(tag, new Error('no push service did this')));
          return;
        }
        recording.send(target, plaintext, options).then(
          (result) => listener.sent(tag, result),
          (error: unknown) => listener.failed(tag, error),
        );
      },
    };
    const { group, feed, runner, member, browser, store } = await setup({ sender });
    const [a, b] = [await member(), await member()];
    const gone = await member({ subscriptionId: await browser() });
    const broken = await member({ subscriptionId: await browser() });
    const goneEndpoint = (await store.getSubscription(gone.subscriptionId as string))?.endpoint;
    failing = (await store.getSubscription(broken.subscriptionId as string))?.endpoint;
    recording.answer((message) =>
      message.target.endpoint === goneEndpoint
        ? { ok: false, reason: 'gone', status: 410, attempts: 1 }
        : { ok: true, status: 201, attempts: 1 },
    );
    runner.start(group, feed.iterator);

    feed.push({ data: { n: 1 } });
    feed.push({ data: { n: 2 } });

    await waitFor(() =>
      expect(
        recording.sent
          .filter((m) => m.envelopes.length === 2)
          .map((m) => m.envelopes.map((e) => [e.reg, e.seq])),
      ).toEqual([
        [
          [a.id, 1],
          [b.id, 1],
        ],
        [
          [a.id, 2],
          [b.id, 2],
        ],
      ]),
    );
    await waitFor(async () =>
      expect((await store.getRegistration(gone.id))?.subscriptionId).toBeNull(),
    );
    // A failure that is not the push service's answer deletes nothing; the log keeps the events.
    expect(await store.getSubscription(broken.subscriptionId as string)).not.toBeNull();
    expect((await store.getMessages(broken.id, 0, 10)).map((e) => e.seq)).toEqual([1, 2]);
    expect(byListener).toBeGreaterThanOrEqual(5);
  });

  it('deletes a browser the push service calls gone; its members go on over the stream', async () => {
    const sender = createRecordingSender();
    sender.answer(() => ({ ok: false, reason: 'gone', status: 410, attempts: 1 }));
    const { group, feed, runner, member, store } = await setup({ sender });
    const record = await member();
    const signals: string[] = [];
    store.listen(record.tabId, (message) => signals.push(message));
    runner.start(group, feed.iterator);

    feed.push({ data: { n: 1 } });

    await waitFor(async () =>
      expect((await store.getRegistration(record.id))?.subscriptionId).toBeNull(),
    );
    await waitFor(() => expect(signals).toEqual([`a ${record.id} 1`]));
  });
});

describe('group runner: appends', () => {
  it('retries an append the store threw on and delivers the event exactly once as seq 1', async () => {
    const memory = createMemoryStore();
    let failures = 1;
    const store: Store = {
      ...memory,
      appendGroupMessage: async (...args) => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('store unavailable');
        }
        return memory.appendGroupMessage(...args);
      },
    };
    const { sender, feed, group, runner, member } = await setup({ store });
    const record = await member();
    runner.start(group, feed.iterator);

    feed.push({ data: { n: 1 } });

    await waitFor(() => expect(sender.sent).toHaveLength(1));
    expect(failures).toBe(0);
    expect(sender.sent[0]?.envelope).toMatchObject({ seq: 1, payload: { data: { n: 1 } } });
    expect((await store.getRegistration(record.id))?.seq).toBe(1);
  });

  it('does not append twice when an append landed but its answer was lost', async () => {
    const memory = createMemoryStore();
    let losses = 1;
    const store: Store = {
      ...memory,
      appendGroupMessage: async (...args) => {
        const result = await memory.appendGroupMessage(...args);
        if (losses > 0) {
          losses -= 1;
          throw new Error('connection lost before the reply');
        }
        return result;
      },
    };
    const { sender, feed, group, runner, member } = await setup({ store });
    const record = await member();
    runner.start(group, feed.iterator);

    feed.push({ data: { n: 1 } });
    feed.push({ data: { n: 2 } });

    await waitFor(() => expect(sender.sent).toHaveLength(2));
    expect(seqAndData(sender, record.id)).toEqual([
      [1, { n: 1 }],
      [2, { n: 2 }],
    ]);
    expect((await store.getMessages(record.id, 0, 10)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('keeps appending in order while earlier sends are still under way', async () => {
    const sender = createRecordingSender();
    const releases: (() => void)[] = [];
    sender.answer(
      () =>
        new Promise<SendResult>((resolve) =>
          releases.push(() => resolve({ ok: true, status: 201, attempts: 1 })),
        ),
    );
    const { feed, group, runner, member } = await setup({ sender });
    const record = await member();
    runner.start(group, feed.iterator);

    for (const n of [1, 2, 3]) feed.push({ data: { n } });

    await waitFor(() => expect(sender.sent).toHaveLength(3));
    expect(seqAndData(sender, record.id)).toEqual([
      [1, { n: 1 }],
      [2, { n: 2 }],
      [3, { n: 3 }],
    ]);
    for (const release of releases) release();
  });

  it('reads the next event only once the sender is ready (backpressure)', async () => {
    let open = false;
    let wake: () => void = () => {};
    const sender = Object.assign(createRecordingSender(), {
      ready: () => (open ? Promise.resolve() : new Promise<void>((resolve) => (wake = resolve))),
    });
    const { feed, group, runner, member } = await setup({ sender });
    const record = await member();
    let reads = 0;
    const next = feed.iterator.next;
    feed.iterator.next = () => {
      reads += 1;
      return next();
    };
    runner.start(group, feed.iterator);
    feed.push({ data: { n: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(reads).toBe(0);

    open = true;
    wake();
    await waitFor(() => expect(envelopesOf(sender, record.id)).toHaveLength(1));
    expect(reads).toBeGreaterThanOrEqual(1);
  });

  it('stops, appending nothing, when another instance claimed the group', async () => {
    const { store, group, feed, runner, member, sender } = await setup();
    const record = await member();
    const other = await store.heartbeat('instance-b', 60_000, Date.now());
    await store.claimGroup(group.id, group.token, 'instance-b', other);
    runner.start(group, feed.iterator);

    feed.push({ data: { n: 1 } });

    await waitFor(() => expect(feed.returned).toBe(1));
    expect(runner.isRunning(group.id)).toBe(false);
    expect(sender.sent).toEqual([]);
    expect((await store.getRegistration(record.id))?.seq).toBe(0);
  });

  it('goes on under a newer token of its own when the group is still this instance’s', async () => {
    const { store, group, feed, member, sender } = await setup();
    const record = await member();
    // This instance was forgotten and took the group back under its new lease.
    const renewed = group.token + 100;
    await store.claimGroup(group.id, group.token, OWNER, renewed);
    runner = createTestRunner(store, sender, {
      reclaim: async (stale) => {
        const stored = await store.getGroup(stale.id);
        return stored?.owner === OWNER ? stored.token : null;
      },
    });
    runner.start({ ...group }, feed.iterator);

    feed.push({ data: { n: 1 } });

    await waitFor(() => expect(envelopesOf(sender, record.id)).toHaveLength(1));
    expect(runner.tokenOf(group.id)).toBe(renewed);
    expect(feed.returned).toBe(0);
  });

  it('turns a stream that throws into one error envelope that hides the cause', async () => {
    const { feed, sender, runner, group, member, store } = await setup();
    const record = await member();
    runner.start(group, feed.iterator);

    feed.fail(new Error('password=hunter2'));

    await waitFor(() => expect(sender.sent).toHaveLength(1));
    expect(sender.sent[0]?.envelope).toMatchObject({
      seq: 1,
      type: 'error',
      payload: {
        errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
      },
    });
    expect(JSON.stringify(sender.sent)).not.toContain('hunter2');
    await waitFor(() => expect(runner.running()).toEqual([]));
    expect(await store.getRegistration(record.id)).toMatchObject({ done: true, seq: 1 });
  });

  it('stores the event cursor with each append, and keeps it while none is known', async () => {
    const { store, group, sender, runner, member, feed } = await setup();
    await member();
    let cursor: string | null = '17-0';
    runner.start(group, feed.iterator, { eventCursor: () => cursor });

    feed.push({ data: { n: 1 } });
    await waitFor(() => expect(sender.sent).toHaveLength(1));
    expect(await store.getGroup(group.id)).toMatchObject({ seq: 1, cursor: '17-0' });

    cursor = null;
    feed.push({ data: { n: 2 } });
    await waitFor(() => expect(sender.sent).toHaveLength(2));
    expect(await store.getGroup(group.id)).toMatchObject({ seq: 2, cursor: '17-0' });

    cursor = '18-3';
    feed.push({ data: { n: 3 } });
    await waitFor(() => expect(sender.sent).toHaveLength(3));
    expect(await store.getGroup(group.id)).toMatchObject({ seq: 3, cursor: '18-3' });
  });

  it('settled waits for the deliveries under way; close does not', async () => {
    const sender = createRecordingSender();
    const events: string[] = [];
    let release: () => void = () => {};
    sender.answer(
      () =>
        new Promise<SendResult>((resolve) => {
          release = () => {
            events.push('send settled');
            resolve({ ok: true, status: 201, attempts: 1 });
          };
        }),
    );
    const { feed, runner: own, group, member } = await setup({ sender });
    await member();
    own.start(group, feed.iterator);
    feed.push({ data: { n: 1 } });
    await waitFor(() => expect(sender.sent).toHaveLength(1));

    await own.close();
    events.push('closed');
    const settled = own.settled().then(() => events.push('settled'));
    release();
    await settled;

    expect(events).toEqual(['closed', 'send settled', 'settled']);
    expect(feed.returned).toBe(1);
  });
});
