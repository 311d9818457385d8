/**
 * `graphql-web-push/service-worker`: the service worker's half of graphql-web-push.
 * @packageDocumentation
 */

import {
  type Envelope,
  MESSAGE_SOURCE,
  type PushSubscriptionData,
  parsePushPayload,
  type WorkerToClientMessage,
} from '../protocol/index.js';
import type {
  PushEventLike,
  PushSubscriptionChangeEventLike,
  PushWorkerScope,
  WorkerPushSubscription,
  WorkerWindowClient,
} from './types.js';

export type * from './types.js';

/** A notification to show for a push that arrives while no tab of the app is visible. */
export interface BackgroundNotification {
  title: string;
  options?: NotificationOptions;
}

/**
 * What to do with our pushes while no window of the app is visible.
 * @remarks Browsers differ:
 * - Chrome requires `userVisibleOnly: true` and, when a push arrives with no visible tab and
 *   the worker shows no notification, shows a generic one itself ("This site has been updated in
 *   the background").
 * - Safari revokes the push permission after a few pushes that show no notification.
 * - Firefox allows silent pushes within a quota per subscription (16 by default while no tab of
 *   the origin is open; past it the subscription is dropped).
 *
 * `silent` suits apps whose pushes only matter to open tabs (Firefox, or Chrome when the
 * generic notification is acceptable). `notify` shows the app's own notification instead.
 */
export type BackgroundPolicy =
  | { policy: 'silent' }
  | {
      policy: 'notify';
      /**
       * Builds the notification for an envelope; `null` shows none for it.
       * @defaultValue a quiet notification titled "New updates", one at a time (tag
       * `graphql-web-push`)
       */
      notification?(envelope: Envelope): BackgroundNotification | null;
    };

/** Options of {@link handlePushMessages}. */
export interface HandlePushMessagesOptions {
  /**
   * Called for pushes that are not graphql-web-push envelopes (the app's own pushes), with the
   * parsed JSON, the text, or `null` for a push without data. Its promise is awaited inside
   * `event.waitUntil`; if it throws, the push event's promise rejects (the browser logs it).
   */
  onPush?(event: PushEventLike, data: unknown): unknown;
  /**
   * Background behaviour; see {@link BackgroundPolicy}.
   * @defaultValue `{ policy: 'silent' }`
   */
  background?: BackgroundPolicy;
  /**
   * When given, a `pushsubscriptionchange` PUTs the new subscription here (the plugin's
   * `${graphqlUrl}/push/subscriptions`), so the server learns the new endpoint even while no tab
   * is open. Tabs re-register it themselves when they get the change message.
   */
  subscriptionsUrl?: string;
}

const DEFAULT_NOTIFICATION: BackgroundNotification = {
  title: 'New updates',
  options: { tag: 'graphql-web-push', silent: true },
};

/** Reads a push's data as JSON, else as text; `null` without data. */
const readData = (event: PushEventLike): unknown => {
  if (!event.data) return null;
  try {
    return event.data.json();
  } catch {
    return event.data.text();
  }
};

const toData = (subscription: WorkerPushSubscription | null): PushSubscriptionData | null => {
  const json = subscription?.toJSON();
  if (!json?.endpoint || !json.keys?.p256dh || !json.keys.auth) return null;
  return {
    endpoint: json.endpoint,
    expirationTime: json.expirationTime ?? null,
    keys: { p256dh: json.keys.p256dh, auth: json.keys.auth },
  };
};

/**
 * Hands graphql-web-push messages from the push service to the app's tabs.
 * @param self - the service worker's global scope (`self`).
 * @param options - see {@link HandlePushMessagesOptions}.
 * @returns a function that removes the listeners.
 * @remarks On `push`, each envelope (one, or each of a batch) is posted as
 * `{ source: MESSAGE_SOURCE, kind: 'envelope', envelope }` to every window client, controlled or
 * not (the first page load is not controlled); anything else goes to `onPush`. On `pushsubscriptionchange`, the new
 * subscription (`event.newSubscription`, or a new one made with the old one's key) is
 * optionally PUT to `subscriptionsUrl` and posted to every window client as
 * `{ kind: 'subscriptionchange', subscription }`, and the link moves its registrations to it.
 * @example
 * ```ts
 * // sw.js
 * import { handlePushMessages } from 'graphql-web-push/service-worker';
 * handlePushMessages(self, { background: { policy: 'notify' } });
 * ```
 */
export function handlePushMessages(
  self: PushWorkerScope,
  { onPush, background = { policy: 'silent' }, subscriptionsUrl }: HandlePushMessagesOptions = {},
): () => void {
  const windows = () => self.clients.matchAll({ type: 'window', includeUncontrolled: true });

  const post = (clients: readonly WorkerWindowClient[], message: WorkerToClientMessage) => {
    for (const client of clients) client.postMessage(message);
  };

  const deliver = async (envelopes: Envelope[]): Promise<void> => {
    const clients = await windows();
    // A batch (one push for several tabs of this browser) is split: each envelope goes alone.
    for (const envelope of envelopes) {
      post(clients, { source: MESSAGE_SOURCE, kind: 'envelope', envelope });
    }
    if (background.policy !== 'notify') return;
    if (clients.some((client) => client.visibilityState === 'visible')) return;
    for (const envelope of envelopes) {
      const notification = background.notification
        ? background.notification(envelope)
        : DEFAULT_NOTIFICATION;
      if (notification) {
        await self.registration.showNotification(notification.title, notification.options);
        // One notification per push: a batch is one event for the person.
        return;
      }
    }
  };

  const handlePush = (event: PushEventLike): void => {
    const data = readData(event);
    const envelopes = parsePushPayload(data);
    event.waitUntil(envelopes ? deliver(envelopes) : Promise.resolve(onPush?.(event, data)));
  };

  const resubscribe = async (
    event: PushSubscriptionChangeEventLike,
  ): Promise<WorkerPushSubscription | null> => {
    if (event.newSubscription) return event.newSubscription;
    const applicationServerKey = event.oldSubscription?.options?.applicationServerKey;
    if (!applicationServerKey) return null;
    return self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
  };

  const changeSubscription = async (event: PushSubscriptionChangeEventLike): Promise<void> => {
    const subscription = toData(await resubscribe(event));
    // Tabs first: they re-register the subscription and move their registrations at once.
    post(await windows(), { source: MESSAGE_SOURCE, kind: 'subscriptionchange', subscription });
    if (subscription && subscriptionsUrl) {
      const response = await self.fetch(subscriptionsUrl, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(subscription),
      });
      if (!response.ok) throw new Error(`PUT ${subscriptionsUrl} answered ${response.status}`);
    }
  };

  const handleSubscriptionChange = (event: PushSubscriptionChangeEventLike): void => {
    event.waitUntil(changeSubscription(event));
  };

  self.addEventListener('push', handlePush);
  self.addEventListener('pushsubscriptionchange', handleSubscriptionChange);
  return () => {
    self.removeEventListener('push', handlePush);
    self.removeEventListener('pushsubscriptionchange', handleSubscriptionChange);
  };
}
