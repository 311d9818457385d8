import type { ConfigResponse, PushTransport } from '../protocol/index.js';
import { createLinkError, isLinkError, LinkErrorCode, type LinkResult } from './errors.js';
import type { RegistrationClient } from './http.js';

/** The server's config and this browser's push subscription id on the server. */
export interface PushSetup {
  config: ConfigResponse;
  subscriptionId: string;
}

/** The shared, lazily made push subscription of one exchange. */
export interface PushSetupCache {
  /** The setup, made on first use: config → `transport.subscribe` → `PUT` subscription. */
  ensure(): Promise<LinkResult<PushSetup>>;
  /** Forgets the setup, so that the next `ensure` subscribes and PUTs again. */
  reset(): void;
  /** The last setup that succeeded, if any. */
  readonly current: PushSetup | null;
  /** True once `ensure` was called. */
  readonly started: boolean;
}

/**
 * Creates the push setup of an exchange: one attempt shared by every operation that needs it,
 * retried by the next caller after a failure.
 * @param options.http - the protocol client.
 * @param options.transport - the push transport.
 * @returns the cache.
 */
export function createPushSetup({
  http,
  transport,
}: {
  http: RegistrationClient;
  transport: PushTransport;
}): PushSetupCache {
  let pending: Promise<LinkResult<PushSetup>> | null = null;
  let current: PushSetup | null = null;

  const attempt = async (): Promise<LinkResult<PushSetup>> => {
    const config = await http.config();
    if (!config.ok) return config;
    let subscription: Awaited<ReturnType<PushTransport['subscribe']>>;
    try {
      subscription = await transport.subscribe(config.value.applicationServerKey);
    } catch (cause) {
      const error = isLinkError(cause)
        ? cause
        : createLinkError(LinkErrorCode.SubscribeFailed, 'the push transport could not subscribe', {
            cause,
          });
      return { ok: false, error };
    }
    const put = await http.putSubscription(subscription);
    if (!put.ok) return put;
    current = { config: config.value, subscriptionId: put.value.subscriptionId };
    return { ok: true, value: current };
  };

  return {
    ensure() {
      if (pending) return pending;
      const started = attempt();
      pending = started;
      void started.then((result) => {
        if (!result.ok && pending === started) pending = null;
      });
      return started;
    },
    reset() {
      pending = null;
    },
    get current() {
      return current;
    },
    get started() {
      return pending !== null || current !== null;
    },
  };
}
