import type { PushSubscriptionData } from './messages.js';

/** Where the browser stands on showing notifications, which every browser ties Web Push to. */
export type PushPermission = 'granted' | 'default' | 'denied' | 'unsupported';

/**
 * Where push messages come from, for the link: a browser's `pushManager` + service worker, or
 * the Node user agent of `graphql-web-push/push-service`. Defined here so neither part imports
 * the other.
 */
export interface PushTransport {
  /**
   * The permission now, without asking. The link subscribes on its own only when it is
   * `granted`; it never triggers a prompt itself.
   * @defaultValue treated as `granted` when absent (a transport without permissions)
   */
  permission?(): Promise<PushPermission>;
  /**
   * Asks the person, from a click (browsers refuse prompts without a user gesture).
   * @returns the permission after the prompt
   */
  requestPermission?(): Promise<PushPermission>;
  /**
   * The current push subscription for this VAPID key, subscribing when there is none.
   * Every tab of an origin gets the same subscription.
   */
  subscribe(applicationServerKey: string): Promise<PushSubscriptionData>;
  /** Drops the push subscription (the app turned push off). Optional. */
  unsubscribe?(): Promise<void>;
  /**
   * Calls `listener` with every push message's data (an envelope or envelope batch object, JSON
   * text or UTF-8 bytes; the link parses it). Returns a function that stops listening.
   */
  onMessage(listener: (data: unknown) => void): () => void;
  /** Calls `listener` when the push subscription was replaced or lost. Optional. */
  onSubscriptionChange?(listener: () => void): () => void;
  /** Calls `listener` when the permission changes (revoked in the browser's settings). Optional. */
  onPermissionChange?(listener: (permission: PushPermission) => void): () => void;
}
