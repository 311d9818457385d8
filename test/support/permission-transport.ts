import type { PushPermission, PushTransport } from '../../protocol/index.js';

/**
 * A push transport (the Node user agent) behind a notification permission the test controls,
 * as a browser's is: what `permission()` reads, what a prompt answers, and changes in the
 * browser's settings.
 */
export interface PermissionedTransport {
  transport: PushTransport;
  /** Prompts shown so far (calls of `requestPermission`). */
  readonly prompts: number;
  /** Subscribe calls so far. */
  readonly subscribes: number;
  /** What the person answers to the next prompt. */
  answer(permission: PushPermission): void;
  /** The browser's settings change (revoked, granted): listeners are told. */
  set(permission: PushPermission): void;
}

/**
 * Wraps a transport with a permission.
 * @param inner - the transport that really subscribes and receives
 * @param initial - the permission at the start
 * @returns the wrapped transport and its controls
 */
export function withPermission(
  inner: PushTransport,
  initial: PushPermission,
): PermissionedTransport {
  let permission = initial;
  let answer: PushPermission = 'granted';
  let prompts = 0;
  let subscribes = 0;
  const listeners = new Set<(permission: PushPermission) => void>();
  const transport: PushTransport = {
    permission: async () => permission,
    async requestPermission() {
      prompts++;
      if (permission === 'default') permission = answer;
      return permission;
    },
    subscribe(key) {
      subscribes++;
      if (permission !== 'granted') {
        return Promise.reject(Object.assign(new Error('not allowed'), { name: 'NotAllowedError' }));
      }
      return inner.subscribe(key);
    },
    onMessage: (listener) => inner.onMessage(listener),
    onSubscriptionChange: (listener) => inner.onSubscriptionChange?.(listener) ?? (() => {}),
    onPermissionChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    ...(inner.unsubscribe ? { unsubscribe: () => inner.unsubscribe?.() ?? Promise.resolve() } : {}),
  };
  return {
    transport,
    get prompts() {
      return prompts;
    },
    get subscribes() {
      return subscribes;
    },
    answer(next) {
      answer = next;
    },
    set(next) {
      permission = next;
      for (const listener of [...listeners]) listener(next);
    },
  };
}
