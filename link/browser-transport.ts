import { decodeBase64Url } from '../protocol/base64url.js';
import {
  MESSAGE_SOURCE,
  type PushPermission,
  type PushSubscriptionData,
  type PushTransport,
  type WorkerToClientMessage,
} from '../protocol/index.js';
import { createLinkError, LinkErrorCode } from './errors.js';

/** The part of `navigator.serviceWorker` the transport uses. */
export type ServiceWorkerContainerLike = Pick<
  ServiceWorkerContainer,
  'register' | 'addEventListener' | 'removeEventListener' | 'startMessages'
>;

/** Options of {@link browserPushTransport}. */
export interface BrowserPushTransportOptions {
  /**
   * Script registered as the service worker when `registration` is not given. It must call
   * `handlePushMessages(self)` (or `importScripts` the package's `sw.js`).
   * @defaultValue '/sw.js'
   */
  serviceWorkerUrl?: string;
  /** Scope passed to `navigator.serviceWorker.register`. */
  scope?: string;
  /** A registration the app made itself; then nothing is registered. */
  registration?: Promise<ServiceWorkerRegistration>;
  /**
   * How long `subscribe` may take. Browsers may never settle `pushManager.subscribe()` (a
   * permission prompt nobody answers, Chromium without its push service).
   * @defaultValue 10_000
   */
  subscribeTimeoutMs?: number;
  /**
   * The service worker container.
   * @defaultValue `navigator.serviceWorker`
   */
  container?: ServiceWorkerContainerLike;
  /**
   * Where the notification permission is read and asked for.
   * @defaultValue `globalThis.Notification`
   */
  notification?: Pick<typeof Notification, 'permission' | 'requestPermission'>;
}

/** `Notification.permission` (or a Permissions API state) as the protocol names it. */
const toPermission = (state: string | undefined): PushPermission => {
  if (state === 'granted' || state === 'denied') return state;
  if (state === 'default' || state === 'prompt') return 'default';
  return 'unsupported';
};

const sameBytes = (a: ArrayBuffer | null | undefined, b: Uint8Array): boolean => {
  if (!a || a.byteLength !== b.byteLength) return false;
  const view = new Uint8Array(a);
  return view.every((byte, i) => byte === b[i]);
};

const toData = (subscription: PushSubscription): PushSubscriptionData => {
  const { endpoint, expirationTime, keys } = subscription.toJSON();
  if (!endpoint || !keys?.p256dh || !keys.auth) {
    throw createLinkError(LinkErrorCode.SubscribeFailed, 'the push subscription has no keys');
  }
  return {
    endpoint,
    expirationTime: expirationTime ?? null,
    keys: { p256dh: keys.p256dh, auth: keys.auth },
  };
};

/** Resolves once the registration has an active worker: `subscribe` needs one. */
const whenActive = async (registration: ServiceWorkerRegistration) => {
  const worker = registration.installing ?? registration.waiting;
  if (registration.active || !worker) return registration;
  await new Promise<void>((resolve) => {
    const onChange = () => {
      if (worker.state !== 'activated' && worker.state !== 'redundant') return;
      worker.removeEventListener('statechange', onChange);
      resolve();
    };
    worker.addEventListener('statechange', onChange);
    onChange();
  });
  return registration;
};

/**
 * The {@link PushTransport} of a browser page: a service worker and the Push API.
 * @param options - see {@link BrowserPushTransportOptions}.
 * @returns the transport for `webPushExchange`.
 * @remarks Nothing here prompts unless the app asks: `permission()` reads
 * `Notification.permission`, `requestPermission()` (from a click) asks. The service worker is
 * registered on the first `subscribe`. `subscribe` reuses the page's push subscription when it
 * was made with the same VAPID key (every tab of the origin shares it), replaces one made with
 * another key, and otherwise subscribes with `userVisibleOnly: true` (Chrome accepts nothing
 * else). It fails with a `WebPushLinkError` (`WEB_PUSH_LINK_SUBSCRIBE_TIMEOUT`) when the browser
 * does not settle in time. Messages come from the service worker's `postMessage`;
 * `startMessages()` is called so that they flow before `DOMContentLoaded`. A permission revoked
 * in the browser's settings is reported through `onPermissionChange` (the Permissions API).
 */
export function browserPushTransport({
  serviceWorkerUrl = '/sw.js',
  scope,
  registration,
  subscribeTimeoutMs = 10_000,
  container = (globalThis as { navigator?: Partial<Navigator> }).navigator?.serviceWorker,
  notification = (globalThis as { Notification?: typeof Notification }).Notification,
}: BrowserPushTransportOptions = {}): PushTransport {
  // Safari on iOS offers push only to a site on the home screen: no PushManager otherwise.
  const pushSupported =
    container !== undefined &&
    typeof (globalThis as { PushManager?: unknown }).PushManager !== 'undefined';
  let registering: Promise<ServiceWorkerRegistration> | undefined = registration;

  const getRegistration = (): Promise<ServiceWorkerRegistration> => {
    if (registering) return registering;
    if (!container) {
      return Promise.reject(
        createLinkError(LinkErrorCode.Unsupported, 'this browser has no service workers'),
      );
    }
    const attempt = container.register(serviceWorkerUrl, scope === undefined ? {} : { scope });
    registering = attempt;
    // A failed registration (network, bad script) is tried again next time.
    attempt.catch(() => {
      if (registering === attempt) registering = undefined;
    });
    return attempt;
  };

  const subscribeNow = async (applicationServerKey: string): Promise<PushSubscriptionData> => {
    const key = decodeBase64Url(applicationServerKey);
    if (!key) throw createLinkError(LinkErrorCode.BadResponse, 'the server key is not base64url');
    const ready = await whenActive(await getRegistration());
    if (!ready.pushManager) {
      throw createLinkError(LinkErrorCode.Unsupported, 'this browser has no Push API');
    }
    const existing = await ready.pushManager.getSubscription();
    if (existing) {
      if (sameBytes(existing.options.applicationServerKey, key)) return toData(existing);
      // Subscribing over a subscription with another key is refused: drop it first.
      await existing.unsubscribe();
    }
    const created = await ready.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: key,
    });
    return toData(created);
  };

  const listenFor = <K extends WorkerToClientMessage['kind']>(
    kind: K,
    listener: (message: Extract<WorkerToClientMessage, { kind: K }>) => void,
  ): (() => void) => {
    if (!container) return () => {};
    const onMessage = (event: MessageEvent) => {
      const data = event.data as Partial<WorkerToClientMessage> | null;
      if (data?.source !== MESSAGE_SOURCE || data.kind !== kind) return;
      listener(data as Extract<WorkerToClientMessage, { kind: K }>);
    };
    container.addEventListener('message', onMessage);
    container.startMessages();
    return () => container.removeEventListener('message', onMessage);
  };

  return {
    async permission() {
      if (!pushSupported || !notification) return 'unsupported';
      return toPermission(notification.permission);
    },
    async requestPermission() {
      if (!pushSupported || !notification) return 'unsupported';
      return toPermission(await notification.requestPermission());
    },
    async unsubscribe() {
      if (!container) return;
      const ready = await getRegistration();
      await (await ready.pushManager?.getSubscription())?.unsubscribe();
    },
    onPermissionChange(listener) {
      const permissions = (globalThis as { navigator?: Partial<Navigator> }).navigator?.permissions;
      let status: PermissionStatus | undefined;
      let stopped = false;
      const onChange = () => listener(toPermission(status?.state));
      permissions
        ?.query({ name: 'notifications' as PermissionName })
        .then((found) => {
          if (stopped) return;
          status = found;
          status.addEventListener('change', onChange);
        })
        .catch(() => {});
      return () => {
        stopped = true;
        status?.removeEventListener('change', onChange);
      };
    },
    subscribe(applicationServerKey) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              createLinkError(
                LinkErrorCode.SubscribeTimeout,
                `pushManager.subscribe() did not settle within ${subscribeTimeoutMs} ms`,
              ),
            ),
          subscribeTimeoutMs,
        );
      });
      return Promise.race([subscribeNow(applicationServerKey), timeout]).finally(() =>
        clearTimeout(timer),
      );
    },
    onMessage(listener) {
      return listenFor('envelope', (message) => listener(message.envelope));
    },
    onSubscriptionChange(listener) {
      return listenFor('subscriptionchange', () => listener());
    },
  };
}
