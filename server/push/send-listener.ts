/**
 * The sender's callback interface, for a caller that sends thousands of messages at once (a
 * group's fan-out): each outcome goes to a listener with the caller's tag, so a message makes
 * no promise, no promise reaction and no closure of the caller's. `createPushSender`'s sender
 * offers it under {@link SEND_WITH_LISTENER}; a custom `PushSender` need not, and is then sent
 * to through `send`.
 * @packageDocumentation
 */
import type { PushTarget, SendOptions, SendResult } from './sender.js';

/**
 * Hears how each message sent with a tag ended. Its methods must not throw: a throw is
 * rethrown outside the sender (an uncaught exception), as from an event listener.
 */
export interface SendListener<T> {
  /** The message's outcome, what `send` resolves with. */
  sent(tag: T, result: SendResult): void;
  /** What `send` rejects with: invalid arguments, or what no push service did. */
  failed(tag: T, error: unknown): void;
}

/** `PushSender.send` with a listener: the same message, the outcome to `listener` with `tag`. */
export type SendWithListener = <T>(
  target: PushTarget,
  plaintext: Uint8Array,
  options: SendOptions,
  listener: SendListener<T>,
  tag: T,
) => void;

/** Where a sender keeps its {@link SendWithListener}. */
export const SEND_WITH_LISTENER: unique symbol = Symbol('graphql-web-push.sendWithListener');

/** A sender that offers {@link SendWithListener}. */
export interface ListeningSender {
  readonly [SEND_WITH_LISTENER]: SendWithListener;
}

/**
 * The listener form of a sender's send, if it has one.
 * @param sender - any sender
 * @returns its {@link SendWithListener}, or `undefined`
 */
export const listeningSend = (sender: object): SendWithListener | undefined =>
  (sender as Partial<ListeningSender>)[SEND_WITH_LISTENER];

/** A listener's throw, rethrown on its own: it must not reach the connection or pool that called. */
const rethrowLater = (error: unknown): void => {
  queueMicrotask(() => {
    throw error;
  });
};

/**
 * Tells `listener` the outcome of the message tagged `tag`.
 * @param listener - the caller's listener
 * @param tag - the caller's tag
 * @param result - the outcome
 */
export function tellSent<T>(listener: SendListener<T>, tag: T, result: SendResult): void {
  try {
    listener.sent(tag, result);
  } catch (error) {
    rethrowLater(error);
  }
}

/**
 * Tells `listener` that the message tagged `tag` failed.
 * @param listener - the caller's listener
 * @param tag - the caller's tag
 * @param error - why
 */
export function tellFailed<T>(listener: SendListener<T>, tag: T, error: unknown): void {
  try {
    listener.failed(tag, error);
  } catch (thrown) {
    rethrowLater(thrown);
  }
}
