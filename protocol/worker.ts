import type { Envelope } from './envelope.js';
import type { PushSubscriptionData } from './messages.js';

/** Marks the service worker's messages to tabs. */
export const MESSAGE_SOURCE = 'graphql-web-push';

/**
 * What the service worker posts to window clients. `source` tells our messages from the app's
 * own `postMessage` traffic.
 */
export type WorkerToClientMessage =
  | { source: typeof MESSAGE_SOURCE; kind: 'envelope'; envelope: Envelope }
  | {
      source: typeof MESSAGE_SOURCE;
      kind: 'subscriptionchange';
      subscription: PushSubscriptionData | null;
    };
