import { describe, expect, it, vi } from 'vitest';
import { type Envelope, MESSAGE_SOURCE, type PushSubscriptionData } from '../protocol/index.js';
import { type HandlePushMessagesOptions, handlePushMessages } from './index.js';
import type {
  PushEventLike,
  PushSubscriptionChangeEventLike,
  PushWorkerScope,
  WorkerPushSubscription,
} from './types.js';

const ENVELOPE: Envelope = {
  v: 1,
  id: 'reg-1:1',
  tab: 'tab-1',
  reg: 'reg-1',
  seq: 1,
  type: 'next',
  payload: { data: { n: 1 } },
};

const subscription = (endpoint: string, key?: ArrayBuffer): WorkerPushSubscription => ({
  options: { applicationServerKey: key ?? null },
  toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh: 'p', auth: 'a' } }),
});

type Listener = (event: never) => void;

/** A service worker global scope with window clients of the given visibility. */
function fakeScope(visibility: DocumentVisibilityState[] = ['visible']) {
  const listeners = new Map<string, Set<Listener>>();
  const clients = visibility.map((visibilityState) => ({
    visibilityState,
    postMessage: vi.fn((_message: unknown) => {}),
  }));
  const matchAll = vi.fn(
    async (_options: { type: 'window'; includeUncontrolled: boolean }) => clients,
  );
  const showNotification = vi.fn(async (_title: string, _options?: NotificationOptions) => {});
  const subscribe = vi.fn(async (options: PushSubscriptionOptionsInit) =>
    subscription('https://push.example/resubscribed', options.applicationServerKey as ArrayBuffer),
  );
  const fetch = vi.fn(async (_input: string, _init?: RequestInit) => new Response('{}'));
  const scope = {
    clients: { matchAll },
    registration: { pushManager: { subscribe }, showNotification },
    fetch,
    addEventListener(type: string, listener: Listener) {
      if (!listeners.has(type)) listeners.set(type, new Set());
      listeners.get(type)?.add(listener);
    },
    removeEventListener(type: string, listener: Listener) {
      listeners.get(type)?.delete(listener);
    },
  };

  /** Fires an event and waits for what it passed to `waitUntil`. */
  const fire = async (type: string, event: object) => {
    const waits: Promise<unknown>[] = [];
    const extendable = { ...event, waitUntil: (promise: Promise<unknown>) => waits.push(promise) };
    for (const listener of listeners.get(type) ?? []) listener(extendable as never);
    await Promise.all(waits);
    return waits.length;
  };
  const push = (data: unknown) =>
    fire('push', {
      data:
        data === null
          ? null
          : {
              json: () => (typeof data === 'string' ? JSON.parse(data) : data),
              text: () => (typeof data === 'string' ? data : JSON.stringify(data)),
            },
    });

  return {
    self: scope as PushWorkerScope,
    clients,
    matchAll,
    showNotification,
    subscribe,
    fetch,
    listeners,
    push,
    fire,
  };
}

const setup = (options?: HandlePushMessagesOptions, visibility?: DocumentVisibilityState[]) => {
  const scope = fakeScope(visibility);
  const stop = handlePushMessages(scope.self, options);
  return { ...scope, stop };
};

describe('handlePushMessages', () => {
  it('posts an envelope to every window client, uncontrolled ones included', async () => {
    const sw = setup({}, ['visible', 'hidden']);
    expect(await sw.push(ENVELOPE)).toBe(1);
    expect(sw.matchAll).toHaveBeenCalledWith({ type: 'window', includeUncontrolled: true });
    for (const client of sw.clients) {
      expect(client.postMessage.mock.calls).toEqual([
        [{ source: MESSAGE_SOURCE, kind: 'envelope', envelope: ENVELOPE }],
      ]);
    }
  });

  it('parses an envelope sent as JSON text', async () => {
    const sw = setup();
    await sw.push(JSON.stringify(ENVELOPE));
    expect(sw.clients[0]?.postMessage).toHaveBeenCalledWith({
      source: MESSAGE_SOURCE,
      kind: 'envelope',
      envelope: ENVELOPE,
    });
  });

  it('hands pushes that are not envelopes to onPush and posts nothing', async () => {
    const onPush = vi.fn((_event: PushEventLike, _data: unknown) => {});
    const sw = setup({ onPush });
    await sw.push({ title: 'the app’s own push' });
    await sw.push('plain text');
    await sw.push(null);
    expect(onPush.mock.calls.map(([, data]) => data)).toEqual([
      { title: 'the app’s own push' },
      'plain text',
      null,
    ]);
    expect(sw.clients[0]?.postMessage).not.toHaveBeenCalled();
  });

  it("shows no notification with the default 'silent' policy", async () => {
    const sw = setup({}, ['hidden']);
    await sw.push(ENVELOPE);
    expect(sw.showNotification).not.toHaveBeenCalled();
  });

  it("with 'notify', shows the app's notification only when no window client is visible", async () => {
    const notification = vi.fn((envelope: Envelope) => ({
      title: `Update ${envelope.seq}`,
      options: { tag: 'stock' },
    }));
    const visible = setup({ background: { policy: 'notify', notification } }, [
      'hidden',
      'visible',
    ]);
    await visible.push(ENVELOPE);
    expect(visible.showNotification).not.toHaveBeenCalled();

    const hidden = setup({ background: { policy: 'notify', notification } }, ['hidden']);
    await hidden.push(ENVELOPE);
    expect(hidden.showNotification.mock.calls).toEqual([['Update 1', { tag: 'stock' }]]);

    const none = setup({ background: { policy: 'notify' } }, []);
    await none.push(ENVELOPE);
    expect(none.showNotification.mock.calls).toEqual([
      ['New updates', { tag: 'graphql-web-push', silent: true }],
    ]);
  });

  it('on pushsubscriptionchange, posts the new subscription to every window client and PUTs it', async () => {
    const sw = setup({ subscriptionsUrl: 'https://api.example/graphql/push/subscriptions' }, [
      'visible',
      'hidden',
    ]);
    const event: Partial<PushSubscriptionChangeEventLike> = {
      newSubscription: subscription('https://push.example/new'),
      oldSubscription: null,
    };
    expect(await sw.fire('pushsubscriptionchange', event)).toBe(1);
    const expected: PushSubscriptionData = {
      endpoint: 'https://push.example/new',
      expirationTime: null,
      keys: { p256dh: 'p', auth: 'a' },
    };
    for (const client of sw.clients) {
      expect(client.postMessage.mock.calls).toEqual([
        [{ source: MESSAGE_SOURCE, kind: 'subscriptionchange', subscription: expected }],
      ]);
    }
    expect(sw.fetch).toHaveBeenCalledTimes(1);
    const [url, init] = sw.fetch.mock.calls[0] ?? [];
    expect(url).toBe('https://api.example/graphql/push/subscriptions');
    expect(init?.method).toBe('PUT');
    expect(JSON.parse(String(init?.body))).toEqual(expected);
  });

  it("re-subscribes with the old subscription's key when the event brings no new one", async () => {
    const key = new Uint8Array([4, 1, 2, 3]).buffer;
    const sw = setup();
    await sw.fire('pushsubscriptionchange', {
      newSubscription: null,
      oldSubscription: subscription('https://push.example/old', key),
    });
    expect(sw.subscribe).toHaveBeenCalledWith({ userVisibleOnly: true, applicationServerKey: key });
    expect(sw.clients[0]?.postMessage).toHaveBeenCalledWith({
      source: MESSAGE_SOURCE,
      kind: 'subscriptionchange',
      subscription: {
        endpoint: 'https://push.example/resubscribed',
        expirationTime: null,
        keys: { p256dh: 'p', auth: 'a' },
      },
    });
    expect(sw.fetch).not.toHaveBeenCalled();
  });

  it('returns a function that removes its listeners', async () => {
    const sw = setup();
    sw.stop();
    expect(await sw.push(ENVELOPE)).toBe(0);
    expect(await sw.fire('pushsubscriptionchange', { newSubscription: null })).toBe(0);
    expect([...sw.listeners.values()].every((set) => set.size === 0)).toBe(true);
  });
});
