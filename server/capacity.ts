import { createHash } from 'node:crypto';
import type { YogaLogger } from 'graphql-yoga';
import { ErrorCode } from '../protocol/index.js';
import { createWebPushError } from './errors.js';
import type { Store } from './store/types.js';

/** Limits on what clients can make the store hold. */
export interface CapacityLimits {
  /** Live push subscriptions the store may hold in all. */
  maxPushSubscriptions: number;
  /** Live registrations the store may hold in all. */
  maxRegistrations: number;
  /** Push subscriptions one client (by `clientKey`) may hold. */
  maxPushSubscriptionsPerClient: number;
  /** Registrations one client may hold. */
  maxRegistrationsPerClient: number;
}

/** Options of {@link createCapacity}. */
export interface CapacityOptions {
  store: Store;
  limits: CapacityLimits;
  /** The operator's hook naming the client of a request (`null`: no per-client limit). */
  clientKey: ((request: Request) => string | null | undefined) | undefined;
  logger: YogaLogger;
}

/** Checks capacities before the store is asked to hold more. */
export interface Capacity {
  /**
   * The client of a request as the store keeps it: a digest of the operator's key, so that what
   * it names (an address, an account) is not stored as such.
   */
  clientOf(request: Request): string | null;
  /**
   * @throws WEB_PUSH_OVER_CAPACITY (503) when the store holds `maxPushSubscriptions`;
   * WEB_PUSH_TOO_MANY_SUBSCRIPTIONS (429) when the client holds its most
   */
  admitSubscription(clientKey: string | null): Promise<void>;
  /**
   * @throws WEB_PUSH_OVER_CAPACITY (503) when the store holds `maxRegistrations`;
   * WEB_PUSH_TOO_MANY_REGISTRATIONS (429) when the client holds its most
   */
  admitRegistration(clientKey: string | null): Promise<void>;
}

/**
 * Creates the capacity checks.
 * @param options - see {@link CapacityOptions}
 * @returns the checks
 * @remarks Each registration holds a live execution on some instance: these caps are what stop
 * one client, or a flood of them, from exhausting the servers. The count and the insert are two
 * steps, so concurrent requests can pass a cap by a few; the caps bound growth, they are not
 * exact quotas. A `clientKey` hook that throws counts as no key (logged once per kind).
 */
export function createCapacity({ store, limits, clientKey, logger }: CapacityOptions): Capacity {
  let warned = false;
  return {
    clientOf(request) {
      if (!clientKey) return null;
      let key: string | null | undefined;
      try {
        key = clientKey(request);
      } catch (error) {
        if (!warned) logger.warn('graphql-web-push: clientKey threw; no per-client limit', error);
        warned = true;
        return null;
      }
      if (typeof key !== 'string' || key === '') return null;
      return createHash('sha256').update(key).digest('base64url').slice(0, 22);
    },

    async admitSubscription(key) {
      const all = await store.usage();
      if (all.subscriptions >= limits.maxPushSubscriptions) {
        throw createWebPushError(
          ErrorCode.OverCapacity,
          'The server holds its most push subscriptions',
        );
      }
      if (key === null) return;
      const mine = await store.usage(key);
      if (mine.subscriptions >= limits.maxPushSubscriptionsPerClient) {
        throw createWebPushError(
          ErrorCode.TooManySubscriptions,
          'Too many push subscriptions for this client',
        );
      }
    },

    async admitRegistration(key) {
      const all = await store.usage();
      if (all.registrations >= limits.maxRegistrations) {
        throw createWebPushError(ErrorCode.OverCapacity, 'The server holds its most registrations');
      }
      if (key === null) return;
      const mine = await store.usage(key);
      if (mine.registrations >= limits.maxRegistrationsPerClient) {
        throw createWebPushError(
          ErrorCode.TooManyRegistrations,
          'Too many registrations for this client',
        );
      }
    },
  };
}
