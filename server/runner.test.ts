import type { ExecutionResult } from 'graphql';
import { createLogger } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SendResult } from './push/index.js';
import { createRunner, type Runner } from './runner.js';
import { createMemoryStore } from './store/memory.js';
import type { RegistrationRecord, Store } from './store/types.js';
import { createBrowserKeys, createRecordingSender, type RecordingSender } from './test-support.js';

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

let runner: Runner | undefined;
afterEach(async () => {
  await runner?.close();
  runner = undefined;
});

async function setup(options: { store?: Store; sender?: RecordingSender } = {}) {
  const store = options.store ?? createMemoryStore();
  const sender = options.sender ?? createRecordingSender();
  const subscription = await store.putSubscription(
    { endpoint: 'http://127.0.0.1:9999/push/1', keys: createBrowserKeys() },
    'S'.repeat(32),
    Date.now(),
    60_000,
  );
  const record: RegistrationRecord = {
    id: 'R'.repeat(32),
    tabId: 'T'.repeat(22),
    subscriptionId: subscription.id,
    held: false,
    background: false,
    clientKey: null,
    operationKey: '1',
    query: 'subscription { n }',
    operationName: null,
    variables: null,
    headers: {},
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    seq: 0,
    ackedSeq: 0,
    done: false,
    cursor: null,
  };
  await store.createRegistration(record, { maxPerTab: 10, maxPerSubscription: 10 });
  runner = createRunner({
    store,
    sender,
    retention: RETENTION,
    maxPayloadBytes: 3072,
    ttlSeconds: 60,
    logger: createLogger('silent'),
    retryBaseMs: 1,
    retryMaxMs: 2,
  });
  const feed = createFeed();
  runner.startRegistration(record, feed.iterator);
  return { store, sender, record, feed, runner };
}

describe('runner', () => {
  it('retries an append the store threw on and delivers the event exactly once as seq 1', async () => {
    const memory = createMemoryStore();
    let failures = 1;
    const store: Store = {
      ...memory,
      appendMessage: async (...args) => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('store unavailable');
        }
        return memory.appendMessage(...args);
      },
    };
    const { sender, feed, record } = await setup({ store });

    feed.push({ data: { n: 1 } });

    await waitFor(() => expect(sender.sent).toHaveLength(1));
    expect(failures).toBe(0);
    expect(sender.sent[0]?.envelope).toMatchObject({ seq: 1, payload: { data: { n: 1 } } });
    expect((await store.getRegistration(record.id))?.seq).toBe(1);
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
    const { store, feed, record } = await setup({ sender });

    for (const n of [1, 2, 3]) feed.push({ data: { n } });

    await waitFor(() => expect(sender.sent).toHaveLength(3));
    expect(releases).toHaveLength(3);
    expect(sender.sent.map((m) => [m.envelope.seq, m.envelope.payload])).toEqual([
      [1, { data: { n: 1 } }],
      [2, { data: { n: 2 } }],
      [3, { data: { n: 3 } }],
    ]);
    expect((await store.getRegistration(record.id))?.seq).toBe(3);
    for (const release of releases) release();
  });

  it('stopRegistration closes the stream and appends nothing more, not even complete', async () => {
    const { store, feed, record, sender, runner } = await setup();
    feed.push({ data: { n: 1 } });
    await waitFor(() => expect(sender.sent).toHaveLength(1));

    await runner.stopRegistration(record.id);
    feed.push({ data: { n: 2 } });

    expect(feed.returned).toBe(1);
    expect(runner.running()).toEqual([]);
    expect(await store.getRegistration(record.id)).toMatchObject({ seq: 1, done: false });
  });

  it('closes the stream when the store no longer has the registration', async () => {
    const { store, feed, record, sender, runner } = await setup();
    await store.deleteRegistration(record.id);

    feed.push({ data: { n: 1 } });

    await waitFor(() => expect(feed.returned).toBe(1));
    expect(sender.sent).toEqual([]);
    expect(runner.running()).toEqual([]);
  });

  it('turns a stream that throws into one error envelope that hides the cause', async () => {
    const { feed, sender, runner } = await setup();

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
  });

  it('settled waits for the sends under way; close does not', async () => {
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
    const { feed, runner: own } = await setup({ sender });
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

  it('does not append twice when an append landed but its answer was lost', async () => {
    const memory = createMemoryStore();
    let losses = 1;
    const store: Store = {
      ...memory,
      appendMessage: async (...args) => {
        const result = await memory.appendMessage(...args);
        if (losses > 0) {
          losses -= 1;
          throw new Error('connection lost before the reply');
        }
        return result;
      },
    };
    const { sender, feed, record } = await setup({ store });

    feed.push({ data: { n: 1 } });
    feed.push({ data: { n: 2 } });

    await waitFor(() => expect(sender.sent).toHaveLength(2));
    expect(sender.sent.map((m) => [m.envelope.seq, m.envelope.payload])).toEqual([
      [1, { data: { n: 1 } }],
      [2, { data: { n: 2 } }],
    ]);
    expect((await store.getMessages(record.id, 0, 10)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('closes the stream and appends nothing when a newer lease fences its append', async () => {
    const { store, record, sender, runner } = await setup();
    const now = Date.now();
    const stale = (await store.acquireLease(record.id, 'a', 1_000, now - 10_000)) as number;
    await store.acquireLease(record.id, 'b', 60_000, now);
    const feed = createFeed();
    runner.startRegistration(record, feed.iterator, { fencingToken: stale });

    feed.push({ data: { n: 1 } });

    await waitFor(() => expect(feed.returned).toBe(1));
    expect(runner.isRunning(record.id)).toBe(false);
    expect(sender.sent).toEqual([]);
    expect((await store.getRegistration(record.id))?.seq).toBe(0);
  });

  it('stores the event cursor with each append, and keeps it while none is known', async () => {
    const { store, record, sender, runner } = await setup();
    let cursor: string | null = '17-0';
    const feed = createFeed();
    runner.startRegistration(record, feed.iterator, { eventCursor: () => cursor });

    feed.push({ data: { n: 1 } });
    await waitFor(() => expect(sender.sent).toHaveLength(1));
    expect(await store.getRegistration(record.id)).toMatchObject({ seq: 1, cursor: '17-0' });

    cursor = null;
    feed.push({ data: { n: 2 } });
    await waitFor(() => expect(sender.sent).toHaveLength(2));
    expect(await store.getRegistration(record.id)).toMatchObject({ seq: 2, cursor: '17-0' });

    cursor = '18-3';
    feed.push({ data: { n: 3 } });
    await waitFor(() => expect(sender.sent).toHaveLength(3));
    expect(await store.getRegistration(record.id)).toMatchObject({ seq: 3, cursor: '18-3' });
  });
});
