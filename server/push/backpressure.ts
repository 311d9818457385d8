/**
 * Backpressure of the sender: a count of accepted messages and a promise for room.
 * @packageDocumentation
 */

/** Counts messages between acceptance and outcome, and tells a producer when to wait. */
export interface PendingGate {
  /** Messages accepted and not finished. */
  readonly pending: number;
  /** One more message was accepted. */
  enter(): void;
  /** One accepted message finished. */
  leave(): void;
  /**
   * @returns a promise that is already resolved while fewer than the bound are pending, else
   * resolves once the count falls below it (or the gate is opened for good)
   */
  ready(): Promise<void>;
  /** Resolves every wait, now and later: nothing is worth waiting for after close. */
  open(): void;
  /** @returns a promise that resolves once nothing is pending */
  drained(): Promise<void>;
}

const READY: Promise<void> = Promise.resolve();

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/**
 * Creates a {@link PendingGate}.
 * @param maxPending - the bound: `ready()` waits while this many or more are pending
 * @returns the gate
 * @remarks Every waiter shares one promise, resolved as soon as the count drops below the
 * bound; several producers may then overshoot it a little, which is harmless because nothing
 * is refused: the bound shapes the producer, it never drops a message.
 */
export function createPendingGate(maxPending: number): PendingGate {
  let pending = 0;
  let opened = false;
  let room: Deferred | undefined;
  let empty: Deferred | undefined;
  return {
    get pending() {
      return pending;
    },
    enter() {
      pending += 1;
    },
    leave() {
      pending -= 1;
      if (room !== undefined && pending < maxPending) {
        room.resolve();
        room = undefined;
      }
      if (empty !== undefined && pending === 0) {
        empty.resolve();
        empty = undefined;
      }
    },
    ready() {
      if (opened || pending < maxPending) return READY;
      room ??= deferred();
      return room.promise;
    },
    drained() {
      if (pending === 0) return READY;
      empty ??= deferred();
      return empty.promise;
    },
    open() {
      opened = true;
      room?.resolve();
      room = undefined;
    },
  };
}
