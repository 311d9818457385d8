import type { FormattedExecutionResult } from 'graphql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ClientMode,
  createClient,
  LinkErrorCode,
  type WebPushClient,
  type WebPushClientEvents,
} from '../../link/index.js';
import { type PushTransport, RESYNC_CODE } from '../../protocol/index.js';
import { createUserAgent } from '../../push-service/index.js';
import { waitForMode } from '../support/mode.js';
import { withPermission } from '../support/permission-transport.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';
import { STOCK_CHANGED } from '../support/tab.js';

/**
 * The client (`createClient`) against real servers: Yoga with the plugin on node:http, the local
 * push service, and the Node user agent behind a notification permission the test controls.
 */

let stack: Stack | undefined;
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await stack?.close();
  stack = undefined;
  vi.unstubAllGlobals();
});

async function setup(options: Parameters<typeof startStack>[0] = {}) {
  stack = await startStack(options);
  const ua = createUserAgent({ serviceUrl: stack.pushService.wsUrl });
  cleanups.push(() => ua.close());
  return { stack, ua };
}

function open(url: string, options: Partial<Parameters<typeof createClient>[0]> = {}) {
  const client = createClient({
    url,
    storage: null,
    renewIntervalMs: 300,
    gapWaitMs: 100,
    ...options,
  });
  cleanups.push(() => client.dispose());
  const errors: WebPushClientEvents['push-error'][] = [];
  const modes: ClientMode[] = [];
  client.on('push-error', (error) => errors.push(error));
  client.on('mode', (mode) => modes.push(mode));
  return { client, errors, modes };
}

/** Subscribes to a product's stock and records every result. */
function watch(client: WebPushClient, productId = 'p1') {
  const results: FormattedExecutionResult[] = [];
  let ended: unknown = null;
  const stop = client.subscribe(
    { query: STOCK_CHANGED, variables: { productId } },
    {
      next: (result) => results.push(result),
      error: (error) => {
        ended = error;
      },
      complete: () => {
        ended = 'complete';
      },
    },
  );
  cleanups.push(stop);
  return {
    results,
    get ended() {
      return ended;
    },
    stocks: () =>
      results.flatMap((r) =>
        r.data ? [(r.data as { stockChanged: { stock: number } }).stockChanged.stock] : [],
      ),
    resyncs: () =>
      results.filter(
        (r) => (r.extensions?.webPush as { code?: string } | undefined)?.code === RESYNC_CODE,
      ),
    stop,
  };
}

const registered = (client: WebPushClient, count = 1) =>
  waitFor(() => client.inspect().registrations.length === count, `${count} registrations`);

/** Publishes `from..to` on a product while `during` runs, then the rest. */
async function publishAround(stack: Stack, range: [number, number], during: () => Promise<void>) {
  const [from, to] = range;
  const half = Math.floor((from + to) / 2);
  let next = from;
  const publisher = (async () => {
    while (next <= half) await stack.setStock('p1', next++);
  })();
  await during();
  await publisher;
  while (next <= to) await stack.setStock('p1', next++);
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('createClient: live for every visitor', () => {
  it('serves a visitor without push over the stream, every event once, in order', async () => {
    const { stack } = await setup();
    const { client } = open(stack.url);
    const seen = watch(client);
    await registered(client);
    await waitForMode(client, 'stream');
    const [registration] = client.inspect().registrations;
    // Registered without a push subscription: the stream delivers it.
    expect(registration?.deliveredTo).toBeNull();
    expect(
      (await stack.store.getRegistration(registration?.registrationId as string))?.subscriptionId,
    ).toBeNull();

    for (let stock = 1; stock <= 30; stock++) await stack.setStock('p1', stock);

    await waitFor(() => seen.results.length >= 30, '30 results');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.stocks()).toEqual(upTo(30));
    expect(stack.pushService.stats().accepted).toBe(0);
  });

  it('iterates a subscription as an async iterator; return() ends it and unregisters', async () => {
    const { stack } = await setup();
    const { client } = open(stack.url);
    const iterator = client.iterate({ query: STOCK_CHANGED, variables: { productId: 'p1' } });
    await registered(client);
    await waitForMode(client, 'stream');
    const got: number[] = [];
    const reading = (async () => {
      for await (const result of iterator) {
        got.push((result.data as { stockChanged: { stock: number } }).stockChanged.stock);
        if (got.length === 3) break;
      }
    })();
    for (const stock of [1, 2, 3]) await stack.setStock('p1', stock);
    await reading;
    expect(got).toEqual([1, 2, 3]);
    await waitFor(() => stack.inventory.iterators.closed === 1, 'the server-side stream closed');
  });

  it('never prompts by itself: with permission "default" it stays on the stream', async () => {
    const { stack, ua } = await setup();
    const permission = withPermission(ua, 'default');
    const { client } = open(stack.url, { transport: permission.transport });
    const seen = watch(client);
    await registered(client);
    await waitForMode(client, 'stream');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(permission.prompts).toBe(0);
    expect(permission.subscribes).toBe(0);
    expect(client.mode).toBe('stream');
    await stack.setStock('p1', 1);
    await waitFor(() => seen.results.length === 1, 'a result over the stream');
  });

  it('moves to push by itself when the permission is already granted; nothing lost or repeated across the move', async () => {
    const { stack, ua } = await setup();
    const permission = withPermission(ua, 'granted');
    const { client, modes } = open(stack.url, { transport: permission.transport });
    const seen = watch(client);
    await registered(client);
    await publishAround(stack, [1, 40], () => waitForMode(client, 'push'));

    await waitFor(() => seen.results.length >= 40, '40 results');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.stocks()).toEqual(upTo(40));
    expect(permission.prompts).toBe(0);
    expect(modes.at(-1)).toBe('push');
    expect(client.inspect()).toMatchObject({ path: 'push', stream: 'closed' });
    // Later events go by push.
    const before = stack.pushService.stats().accepted;
    await stack.setStock('p1', 41);
    await waitFor(() => seen.results.length === 41, 'the 41st result');
    expect(stack.pushService.stats().accepted).toBe(before + 1);
  });
});

describe('createClient: enablePush from a click', () => {
  it('asks, subscribes, moves the registrations onto push and closes the stream, every event once across the switch', async () => {
    const { stack, ua } = await setup();
    const permission = withPermission(ua, 'default');
    permission.answer('granted');
    const { client } = open(stack.url, { transport: permission.transport });
    const seen = watch(client);
    await registered(client);
    await waitForMode(client, 'stream');

    let outcome: Awaited<ReturnType<WebPushClient['enablePush']>> | undefined;
    await publishAround(stack, [1, 60], async () => {
      outcome = await client.enablePush();
    });

    expect(outcome).toEqual({ ok: true });
    expect(permission.prompts).toBe(1);
    expect(client.mode).toBe('push');
    await waitFor(() => seen.results.length >= 60, '60 results');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.stocks()).toEqual(upTo(60));
    const [registration] = client.inspect().registrations;
    expect(registration?.deliveredTo).toBe(client.inspect().subscriptionId);
  });

  it('on disablePush, moves back to the stream without loss and deletes its push subscription at the server', async () => {
    const { stack, ua } = await setup();
    const permission = withPermission(ua, 'granted');
    const { client } = open(stack.url, { transport: permission.transport });
    const seen = watch(client);
    await registered(client);
    await waitForMode(client, 'push');
    const subscriptionId = client.inspect().subscriptionId as string;
    expect(await stack.store.getSubscription(subscriptionId)).not.toBeNull();

    await publishAround(stack, [1, 40], () => client.disablePush());

    expect(client.inspect()).toMatchObject({ path: 'stream', subscriptionId: null });
    await waitForMode(client, 'stream');
    // Nothing a client created stays behind: the record is gone, not left to expire.
    expect(await stack.store.getSubscription(subscriptionId)).toBeNull();
    await waitFor(() => seen.results.length >= 40, '40 results');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.stocks()).toEqual(upTo(40));
    const [registration] = client.inspect().registrations;
    expect(registration?.deliveredTo).toBeNull();
  });

  it('names a denied permission, and the stream goes on serving', async () => {
    const { stack, ua } = await setup();
    const permission = withPermission(ua, 'default');
    permission.answer('denied');
    const { client, errors } = open(stack.url, { transport: permission.transport });
    const seen = watch(client);
    await registered(client);
    await waitForMode(client, 'stream');

    const outcome = await client.enablePush();

    expect(outcome).toMatchObject({ ok: false, error: { code: LinkErrorCode.PermissionDenied } });
    expect(errors.map((error) => error.code)).toEqual([LinkErrorCode.PermissionDenied]);
    expect(client.mode).toBe('stream');
    await stack.setStock('p1', 1);
    await waitFor(() => seen.results.length === 1, 'a result over the stream');
    expect(seen.ended).toBeNull();
  });

  it('names a dismissed prompt (still "default") and a browser without push', async () => {
    const { stack, ua } = await setup();
    const permission = withPermission(ua, 'default');
    permission.answer('default');
    const dismissed = open(stack.url, { transport: permission.transport });
    expect(await dismissed.client.enablePush()).toMatchObject({
      ok: false,
      error: { code: LinkErrorCode.PermissionDefault },
    });
    const withoutPush = open(stack.url);
    expect(await withoutPush.client.enablePush()).toMatchObject({
      ok: false,
      error: { code: LinkErrorCode.Unsupported },
    });
  });

  it('reports a subscribe timeout by name and stays on the stream', async () => {
    const { stack, ua } = await setup();
    const permission = withPermission(ua, 'granted');
    const timeout = Object.assign(new Error('did not settle'), {
      name: 'WebPushLinkError',
      code: LinkErrorCode.SubscribeTimeout,
    });
    const transport = { ...permission.transport, subscribe: () => Promise.reject(timeout) };
    const { client, errors } = open(stack.url, { transport });
    const seen = watch(client);
    await registered(client);
    await waitFor(() => errors.length === 1, 'the automatic attempt to fail');
    expect(errors[0]?.code).toBe(LinkErrorCode.SubscribeTimeout);
    await waitForMode(client, 'stream');
    await stack.setStock('p1', 1);
    await waitFor(() => seen.results.length === 1, 'a result over the stream');
  });
});

describe('createClient: back to the stream when push stops working', () => {
  it('returns by itself when the push subscription dies (410), without loss', async () => {
    const { stack, ua } = await setup();
    const permission = withPermission(ua, 'granted');
    const { client } = open(stack.url, { transport: permission.transport });
    const seen = watch(client);
    await registered(client);
    await waitForMode(client, 'push');
    await stack.setStock('p1', 1);
    await waitFor(() => seen.results.length === 1, 'the first result by push');

    // The browser drops the subscription; its endpoint answers 410 from now on.
    await ua.unsubscribe();
    await publishAround(stack, [2, 40], () => waitForMode(client, 'stream'));

    await waitFor(() => seen.results.length >= 40, '40 results');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.stocks()).toEqual(upTo(40));
    expect(client.inspect()).toMatchObject({ path: 'stream', stream: 'open' });
  });

  it('returns by itself when a subscription change cannot subscribe again, without loss', async () => {
    const { stack, ua } = await setup();
    const permission = withPermission(ua, 'granted');
    let changed: (() => void) | undefined;
    let pushServiceDown = false;
    const transport: PushTransport = {
      ...permission.transport,
      subscribe: (key) =>
        pushServiceDown
          ? Promise.reject(Object.assign(new Error('push service down'), { name: 'AbortError' }))
          : permission.transport.subscribe(key),
      // The service worker's pushsubscriptionchange, as the browser transport reports it.
      onSubscriptionChange(listener) {
        changed = listener;
        return () => {
          changed = undefined;
        };
      },
    };
    const { client } = open(stack.url, { transport });
    const errors: string[] = [];
    client.on('push-error', (error) => errors.push(error.code));
    const seen = watch(client);
    await registered(client);
    await waitForMode(client, 'push');

    await publishAround(stack, [1, 40], async () => {
      // The browser lost its subscription and cannot get a new one from its push service.
      pushServiceDown = true;
      await ua.unsubscribe();
      changed?.();
      await waitForMode(client, 'stream');
    });

    await waitFor(() => seen.results.length >= 40, '40 results');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.stocks()).toEqual(upTo(40));
    expect(client.inspect()).toMatchObject({ path: 'stream', stream: 'open' });
    expect(errors).toEqual([LinkErrorCode.PushServiceUnreachable]);
  });

  it('returns by itself when the permission is revoked, without loss', async () => {
    const { stack, ua } = await setup();
    const permission = withPermission(ua, 'granted');
    const { client } = open(stack.url, { transport: permission.transport });
    const seen = watch(client);
    await registered(client);
    await waitForMode(client, 'push');

    await publishAround(stack, [1, 40], async () => {
      permission.set('denied');
      await waitForMode(client, 'stream');
    });

    await waitFor(() => seen.results.length >= 40, '40 results');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.stocks()).toEqual(upTo(40));
  });
});

describe('createClient: hidden tabs and resyncs', () => {
  it('asks the server to hold its pushes while hidden, and catches up exactly once when shown', async () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    vi.stubGlobal('document', doc);
    const { stack, ua } = await setup();
    const permission = withPermission(ua, 'granted');
    const { client } = open(stack.url, { transport: permission.transport });
    const seen = watch(client);
    await registered(client);
    await waitForMode(client, 'push');
    const [registration] = client.inspect().registrations;
    const id = registration?.registrationId as string;

    doc.visibilityState = 'hidden';
    doc.dispatchEvent(new Event('visibilitychange'));
    await waitFor(async () => (await stack.store.getRegistration(id))?.held === true, 'held');
    const before = stack.pushService.stats().accepted;
    for (let stock = 1; stock <= 10; stock++) await stack.setStock('p1', stock);
    await waitFor(async () => (await stack.store.getRegistration(id))?.seq === 10, 'logged');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stack.pushService.stats().accepted).toBe(before);

    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    await waitFor(() => seen.results.length >= 10, 'the held events');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.stocks()).toEqual(upTo(10));
    expect((await stack.store.getRegistration(id))?.held).toBe(false);
  });

  it('says so with WEB_PUSH_RESYNC when its registration was gone, and goes on with the new one', async () => {
    const { stack } = await setup({ registrationTtlMs: 600, sweepIntervalMs: 50 });
    // Nothing the tab sends arrives for a while, and its stream is cut: a page frozen (or offline)
    // for longer than its registration lives.
    let blocked = false;
    const streams = new Set<AbortController>();
    const fetchThrough: typeof fetch = (input, init) => {
      if (blocked) return Promise.reject(new TypeError('frozen'));
      const target = String(input instanceof Request ? input.url : input);
      if (!target.includes('/push/stream')) return globalThis.fetch(input, init);
      const controller = new AbortController();
      init?.signal?.addEventListener('abort', () => controller.abort());
      streams.add(controller);
      return globalThis.fetch(input, { ...init, signal: controller.signal });
    };
    const freeze = () => {
      blocked = true;
      for (const controller of streams) controller.abort();
    };
    const { client } = open(stack.url, { fetch: fetchThrough, renewIntervalMs: 150 });
    const seen = watch(client);
    await registered(client);
    await stack.setStock('p1', 1);
    await waitFor(() => seen.results.length === 1, 'the first result');
    const [first] = client.inspect().registrations;

    freeze();
    await waitFor(
      async () => (await stack.store.getRegistration(first?.registrationId as string)) === null,
      'the registration to expire',
    );
    await stack.setStock('p1', 2);
    blocked = false;

    await waitFor(() => seen.resyncs().length === 1, 'a resync result');
    await waitFor(() => client.inspect().registrations.length === 1, 'the new registration');
    await stack.setStock('p1', 3);
    await waitFor(() => seen.stocks().includes(3), 'events on the new registration');
    // 2 was published while no registration existed: the resync is the honest answer.
    expect(seen.stocks()).toEqual([1, 3]);
    const index = seen.results.indexOf(seen.resyncs()[0] as FormattedExecutionResult);
    expect(seen.results[index]).toEqual({
      extensions: { webPush: { code: RESYNC_CODE, reason: 'registration-gone' } },
    });
    expect(index).toBe(1);
  });

  it('reports itself offline when the browser is, and catches up when it is back', async () => {
    const nav = { onLine: true };
    const win = new EventTarget();
    vi.stubGlobal('navigator', nav);
    vi.stubGlobal('window', win);
    const { stack } = await setup();
    const { client } = open(stack.url);
    const seen = watch(client);
    await registered(client);
    await waitForMode(client, 'stream');

    nav.onLine = false;
    win.dispatchEvent(new Event('offline'));
    expect(client.mode).toBe('offline');
    await stack.setStock('p1', 1);
    nav.onLine = true;
    win.dispatchEvent(new Event('online'));
    await waitForMode(client, 'stream');
    await waitFor(() => seen.results.length === 1, 'the event from while offline');
    expect(seen.stocks()).toEqual([1]);
  });
});
