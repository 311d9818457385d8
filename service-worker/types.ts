/**
 * The few service-worker types `handlePushMessages` needs, declared here because the project
 * compiles against the DOM library, not WebWorker. A real `ServiceWorkerGlobalScope` fits them.
 * @packageDocumentation
 */

/** `ExtendableEvent`: keeps the worker alive until the promise settles. */
export interface ExtendableEventLike {
  waitUntil(promise: Promise<unknown>): void;
}

/** `PushMessageData`. */
export interface PushMessageDataLike {
  json(): unknown;
  text(): string;
}

/** `PushEvent`. */
export interface PushEventLike extends ExtendableEventLike {
  readonly data: PushMessageDataLike | null;
}

/** `PushSubscription` as a worker sees it. */
export interface WorkerPushSubscription {
  readonly options?: { readonly applicationServerKey: ArrayBuffer | null } | undefined;
  toJSON(): PushSubscriptionJSON;
}

/** `PushSubscriptionChangeEvent` (Firefox; Chrome does not fire it yet). */
export interface PushSubscriptionChangeEventLike extends ExtendableEventLike {
  readonly newSubscription?: WorkerPushSubscription | null;
  readonly oldSubscription?: WorkerPushSubscription | null;
}

/** `WindowClient`. */
export interface WorkerWindowClient {
  readonly visibilityState?: DocumentVisibilityState;
  postMessage(message: unknown): void;
}

/** `Clients`. */
export interface WorkerClients {
  matchAll(options: {
    type: 'window';
    includeUncontrolled: boolean;
  }): Promise<readonly WorkerWindowClient[]>;
}

/** `ServiceWorkerRegistration` as a worker sees it. */
export interface WorkerRegistration {
  readonly pushManager: {
    subscribe(options: PushSubscriptionOptionsInit): Promise<WorkerPushSubscription>;
  };
  showNotification(title: string, options?: NotificationOptions): Promise<void>;
}

/** `ServiceWorkerGlobalScope`, reduced to what push handling touches. */
export interface PushWorkerScope {
  readonly clients: WorkerClients;
  readonly registration: WorkerRegistration;
  addEventListener(type: 'push', listener: (event: PushEventLike) => void): void;
  addEventListener(
    type: 'pushsubscriptionchange',
    listener: (event: PushSubscriptionChangeEventLike) => void,
  ): void;
  removeEventListener(type: 'push', listener: (event: PushEventLike) => void): void;
  removeEventListener(
    type: 'pushsubscriptionchange',
    listener: (event: PushSubscriptionChangeEventLike) => void,
  ): void;
  fetch(input: string, init?: RequestInit): Promise<Response>;
}
