import {
  type ConfigResponse,
  type Envelope,
  type PushPermission,
  type PushTransport,
  parsePushPayload,
} from '../protocol/index.js';
import {
  createLinkError,
  isLinkError,
  LinkErrorCode,
  type LinkResult,
  type WebPushLinkError,
} from './errors.js';
import type { RegistrationClient } from './http.js';

/** This browser's push subscription, known to the server. */
export interface PushSetup {
  subscriptionId: string;
}

/** Options of {@link createPushSource}. */
export interface PushSourceOptions {
  http: RegistrationClient;
  /** The push transport; without one there is no push, only the stream. */
  transport: PushTransport | undefined;
  /** The server's config, fetched once. */
  config(): Promise<LinkResult<ConfigResponse>>;
  onEnvelope(envelope: Envelope): void;
  /** The browser's push subscription was replaced, or the permission changed. */
  onChange(cause: 'subscription' | 'permission'): void;
}

/** The push side of one client: permission, subscription, and the messages it brings. */
export interface PushSource {
  /** The permission now, never asking; `unsupported` without a transport. */
  permission(): Promise<PushPermission>;
  /**
   * Subscribes and registers the push subscription with the server.
   * @param prompt - ask for the permission first (only from a user gesture); without it, push is
   * set up only when the permission is already granted
   * @returns the setup, or a named error: permission default or denied, unsupported, subscribe
   * timeout, push service unreachable, or the server's refusal
   */
  setup(prompt: boolean): Promise<LinkResult<PushSetup>>;
  /** The last setup that succeeded, until {@link PushSource.forget}. */
  readonly current: PushSetup | null;
  /** Forgets the setup (push stopped working); the next `setup` starts over. */
  forget(): void;
  /** Drops the browser's push subscription and tells the server (the app turned push off). */
  remove(): Promise<void>;
  /** Starts taking the transport's messages and change events. */
  listen(): void;
  /** Stops listening. */
  close(): void;
}

/**
 * Names a failed `subscribe()`: browsers reject with DOMExceptions whose names say why.
 * @param cause - what `transport.subscribe` threw
 * @returns the link error to report
 */
export function subscribeError(cause: unknown): WebPushLinkError {
  if (isLinkError(cause)) return cause;
  const name = (cause as { name?: unknown } | null)?.name;
  switch (name) {
    case 'NotAllowedError':
      return createLinkError(LinkErrorCode.PermissionDenied, 'notifications are not allowed', {
        cause,
      });
    case 'AbortError':
      return createLinkError(
        LinkErrorCode.PushServiceUnreachable,
        'the browser could not reach its push service',
        { cause },
      );
    case 'NotSupportedError':
      return createLinkError(LinkErrorCode.Unsupported, 'this browser cannot subscribe to push', {
        cause,
      });
    default:
      return createLinkError(
        LinkErrorCode.SubscribeFailed,
        'the push transport could not subscribe',
        {
          cause,
        },
      );
  }
}

const permissionError = (permission: PushPermission): WebPushLinkError | null => {
  switch (permission) {
    case 'granted':
      return null;
    case 'denied':
      return createLinkError(LinkErrorCode.PermissionDenied, 'notifications are denied');
    case 'unsupported':
      return createLinkError(LinkErrorCode.Unsupported, 'this browser has no Push API');
    default:
      return createLinkError(
        LinkErrorCode.PermissionDefault,
        'notifications are not granted yet: call enablePush() from a click',
      );
  }
};

/**
 * Creates the push source of one client.
 * @param options - see {@link PushSourceOptions}
 * @returns the source
 * @remarks Never prompts by itself: `setup(false)` subscribes only when the permission is
 * already granted. Setups are not shared between concurrent calls on purpose: a prompt from a
 * click must not wait behind an automatic attempt that may never settle (Chromium without its
 * push service).
 */
export function createPushSource(options: PushSourceOptions): PushSource {
  const { http, transport, config, onEnvelope, onChange } = options;
  let current: PushSetup | null = null;
  let unlisten: (() => void) | undefined;

  const permission = async (): Promise<PushPermission> => {
    if (!transport) return 'unsupported';
    try {
      return transport.permission ? await transport.permission() : 'granted';
    } catch {
      return 'unsupported';
    }
  };

  return {
    permission,
    async setup(prompt) {
      if (!transport)
        return { ok: false, error: permissionError('unsupported') as WebPushLinkError };
      let state = await permission();
      if (state === 'default' && prompt && transport.requestPermission) {
        try {
          state = await transport.requestPermission();
        } catch (cause) {
          return { ok: false, error: subscribeError(cause) };
        }
      }
      const refused = permissionError(state);
      if (refused) return { ok: false, error: refused };
      const settings = await config();
      if (!settings.ok) return settings;
      let subscription: Awaited<ReturnType<PushTransport['subscribe']>>;
      try {
        subscription = await transport.subscribe(settings.value.applicationServerKey);
      } catch (cause) {
        return { ok: false, error: subscribeError(cause) };
      }
      const put = await http.putSubscription(subscription);
      if (!put.ok) {
        const { status, serverCode } = put.error;
        return {
          ok: false,
          error:
            put.error.code === LinkErrorCode.Http
              ? createLinkError(
                  LinkErrorCode.PushRefused,
                  'the server refused the push subscription',
                  {
                    ...(status === undefined ? {} : { status }),
                    ...(serverCode === undefined ? {} : { serverCode }),
                    cause: put.error,
                  },
                )
              : put.error,
        };
      }
      current = { subscriptionId: put.value.subscriptionId };
      return { ok: true, value: current };
    },
    get current() {
      return current;
    },
    forget() {
      current = null;
    },
    async remove() {
      const removed = current;
      current = null;
      await transport?.unsubscribe?.().catch(() => {});
      if (removed) await http.deleteSubscription(removed.subscriptionId);
    },
    listen() {
      if (unlisten || !transport) return;
      const removers = [
        transport.onMessage((data) => {
          for (const envelope of parsePushPayload(data) ?? []) onEnvelope(envelope);
        }),
        transport.onSubscriptionChange?.(() => onChange('subscription')),
        transport.onPermissionChange?.(() => onChange('permission')),
      ];
      unlisten = () => {
        for (const remove of removers) remove?.();
      };
    },
    close() {
      unlisten?.();
      unlisten = undefined;
    },
  };
}
