import { describe, expect, it, vi } from 'vitest';
import { encodeBase64Url } from '../protocol/base64url.js';
import { MESSAGE_SOURCE, type PushSubscriptionData } from '../protocol/index.js';
import { browserPushTransport, type ServiceWorkerContainerLike } from './browser-transport.js';
import { LinkErrorCode } from './errors.js';

const KEY_BYTES = new Uint8Array(65).map((_, i) => i + 1);
const KEY = encodeBase64Url(KEY_BYTES);

const subscriptionData = (endpoint: string): PushSubscriptionData => ({
  endpoint,
  expirationTime: null,
  keys: { p256dh: 'p', auth: 'a' },
});

function fakeSubscription(endpoint: string, key: Uint8Array) {
  return {
    options: { applicationServerKey: key.slice().buffer, userVisibleOnly: true },
    unsubscribe: vi.fn(async () => true),
    toJSON: () => subscriptionData(endpoint),
  };
}

function fakeBrowser(existing: ReturnType<typeof fakeSubscription> | null = null) {
  const pushManager = {
    getSubscription: vi.fn(async () => existing),
    subscribe: vi.fn(async (options: PushSubscriptionOptionsInit) =>
      fakeSubscription('https://push.example/new', options.applicationServerKey as Uint8Array),
    ),
  };
  const registration = { active: {}, installing: null, waiting: null, pushManager };
  const messages = new EventTarget();
  const container = {
    register: vi.fn(async () => registration as unknown as ServiceWorkerRegistration),
    addEventListener: messages.addEventListener.bind(messages),
    removeEventListener: messages.removeEventListener.bind(messages),
    startMessages: vi.fn(),
  } as unknown as ServiceWorkerContainerLike & {
    register: ReturnType<typeof vi.fn>;
    startMessages: ReturnType<typeof vi.fn>;
  };
  const post = (data: unknown) => messages.dispatchEvent(new MessageEvent('message', { data }));
  return { container, pushManager, post };
}

describe('browser push transport', () => {
  it('registers the service worker and subscribes with userVisibleOnly and the decoded key', async () => {
    const browser = fakeBrowser();
    const transport = browserPushTransport({ container: browser.container, scope: '/app/' });
    expect(await transport.subscribe(KEY)).toEqual(subscriptionData('https://push.example/new'));
    expect(browser.container.register).toHaveBeenCalledWith('/sw.js', { scope: '/app/' });
    const options = browser.pushManager.subscribe.mock.calls[0]?.[0];
    expect(options?.userVisibleOnly).toBe(true);
    expect(options?.applicationServerKey).toEqual(KEY_BYTES);
  });

  it('reuses a subscription made with the same key', async () => {
    const browser = fakeBrowser(fakeSubscription('https://push.example/old', KEY_BYTES));
    const transport = browserPushTransport({ container: browser.container });
    expect(await transport.subscribe(KEY)).toEqual(subscriptionData('https://push.example/old'));
    expect(browser.pushManager.subscribe).not.toHaveBeenCalled();
  });

  it('replaces a subscription made with another key', async () => {
    const old = fakeSubscription('https://push.example/old', new Uint8Array(65));
    const browser = fakeBrowser(old);
    const transport = browserPushTransport({ container: browser.container });
    expect(await transport.subscribe(KEY)).toEqual(subscriptionData('https://push.example/new'));
    expect(old.unsubscribe).toHaveBeenCalledTimes(1);
  });

  it('fails with WEB_PUSH_LINK_SUBSCRIBE_TIMEOUT when the browser never settles', async () => {
    vi.useFakeTimers();
    try {
      const browser = fakeBrowser();
      browser.pushManager.subscribe.mockImplementation(() => new Promise(() => {}));
      const transport = browserPushTransport({
        container: browser.container,
        subscribeTimeoutMs: 50,
      });
      const result = transport.subscribe(KEY).catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(50);
      expect(await result).toMatchObject({ code: LinkErrorCode.SubscribeTimeout });
    } finally {
      vi.useRealTimers();
    }
  });

  it('fails with WEB_PUSH_LINK_UNSUPPORTED without service workers', async () => {
    const transport = browserPushTransport({ registration: undefined, container: undefined });
    await expect(transport.subscribe(KEY)).rejects.toMatchObject({
      code: LinkErrorCode.Unsupported,
    });
  });

  it("passes on only the worker's envelope messages, and subscription changes apart", () => {
    const browser = fakeBrowser();
    const transport = browserPushTransport({ container: browser.container });
    const envelopes: unknown[] = [];
    let changes = 0;
    const stop = transport.onMessage((data) => envelopes.push(data));
    transport.onSubscriptionChange?.(() => changes++);
    expect(browser.container.startMessages).toHaveBeenCalled();

    browser.post({ source: MESSAGE_SOURCE, kind: 'envelope', envelope: { id: 'a' } });
    browser.post({ source: 'some-other-library', kind: 'envelope', envelope: { id: 'b' } });
    browser.post('hello');
    browser.post({ source: MESSAGE_SOURCE, kind: 'subscriptionchange', subscription: null });
    stop();
    browser.post({ source: MESSAGE_SOURCE, kind: 'envelope', envelope: { id: 'c' } });

    expect(envelopes).toEqual([{ id: 'a' }]);
    expect(changes).toBe(1);
  });
});
