import { LinkErrorCode, type WebPushLinkError } from './errors.js';
import type { RegistrationClient } from './http.js';
import { disposedError, type Operations } from './operations.js';
import type { PushSource } from './push-source.js';
import type { StreamSource } from './stream-source.js';

/** Outcome of the client's `enablePush()` ({@link DeliveryPath.usePush}): on push, or why not. */
export type EnablePushResult = { ok: true } | { ok: false; error: WebPushLinkError };

/** Options of {@link createDeliveryPath}. */
export interface DeliveryPathOptions {
  tabId: string;
  http: RegistrationClient;
  operations: Operations;
  stream: StreamSource;
  push: PushSource;
  /** A named push error, for the app's `push-error` listeners. */
  onPushError(error: WebPushLinkError): void;
  /** The path, the stream or the push setup changed: the client's mode may have. */
  onChange(): void;
  disposed(): boolean;
}

/** Where the tab's registrations are delivered, and the moves between stream and push. */
export interface DeliveryPath {
  /** Where new registrations go, and where existing ones are moved to. */
  readonly current: 'stream' | 'push';
  /** The push subscription registrations should be on now; null: the stream. */
  target(): string | null;
  /** Puts every registration where the path says, and opens or closes the stream to match. */
  reconcile(): void;
  /** Back to the stream (push stopped working, or the app turned it off), naming why. */
  useStream(error?: WebPushLinkError): void;
  /**
   * Sets push up and moves every registration onto it.
   * @param prompt - ask for the permission (only from a user gesture)
   */
  usePush(prompt: boolean): Promise<EnablePushResult>;
  /** The browser replaced its push subscription, or the permission changed. */
  pushChanged(cause: 'subscription' | 'permission'): Promise<void>;
  /** The server does not know our push subscription: put it again, where still allowed. */
  subscriptionUnknown(): void;
  /** Resolves when the move under way (if any) is over. */
  settled(): Promise<void>;
  /** Forgets a move a freeze caught midway (it may never end); the next reconcile starts over. */
  abandonMove(): void;
}

/**
 * Creates the delivery path of one client.
 * @param options - the client's parts it moves registrations between
 * @returns the path
 * @remarks The stream stays open until every registration is on push: whatever was appended
 * before a move arrives over the stream, whatever after it by push, and the sequencer drops
 * what both bring. Moving back opens the stream first, then moves the registrations.
 */
export function createDeliveryPath(options: DeliveryPathOptions): DeliveryPath {
  const { tabId, http, operations, stream, push, onPushError, onChange, disposed } = options;
  let current: 'stream' | 'push' = 'stream';
  let moving: Promise<void> | null = null;
  let moveAgain = false;
  /** Bumped when a move in flight is abandoned (a page frozen midway). */
  let moveGeneration = 0;
  /** Why the last move onto push was refused, for `usePush`'s answer. */
  let refusal: WebPushLinkError | null = null;

  const target = (): string | null =>
    current === 'push' ? (push.current?.subscriptionId ?? null) : null;

  const asPushRefusal = (error: WebPushLinkError): WebPushLinkError =>
    error.code === LinkErrorCode.Http
      ? Object.assign(error, { code: LinkErrorCode.PushRefused })
      : error;

  const reconcileOnce = async (): Promise<void> => {
    const targetId = target();
    const misplaced = [...operations.live.values()].filter(
      (operation) => operation.deliveredTo !== targetId,
    );
    const needsStream = current === 'stream' || misplaced.length > 0;
    if (needsStream && operations.live.size > 0) stream.start();
    if (misplaced.length > 0) {
      const moved = await http.move({
        tabId,
        subscriptionId: targetId,
        registrationIds: misplaced.map((operation) => operation.registrationId as string),
      });
      if (!moved.ok) {
        if (targetId !== null) {
          // The server will not push to it (its limits): stay on the stream.
          refusal = asPushRefusal(moved.error);
          onPushError(refusal);
          current = 'stream';
          moveAgain = true;
        }
        return;
      }
      for (const id of moved.value.moved) {
        const operation = operations.live.get(id);
        if (operation) operation.deliveredTo = targetId;
      }
      for (const id of moved.value.gone) operations.reregister(id, 'registration-gone');
    }
    const allPlaced = [...operations.live.values()].every((o) => o.deliveredTo === targetId);
    if (current === 'push' && allPlaced) stream.stop();
    if (operations.live.size === 0 && operations.count === 0) stream.stop();
  };

  const reconcile = (): void => {
    if (disposed()) return;
    if (moving) {
      moveAgain = true;
      return;
    }
    const mine = moveGeneration;
    moving = (async () => {
      do {
        moveAgain = false;
        await reconcileOnce();
      } while (moveAgain && !disposed() && mine === moveGeneration);
    })().finally(() => {
      if (mine !== moveGeneration) return;
      moving = null;
      onChange();
    });
  };

  const useStream = (error?: WebPushLinkError): void => {
    if (error) onPushError(error);
    if (current === 'stream') return;
    current = 'stream';
    reconcile();
    onChange();
  };

  const usePush = async (prompt: boolean): Promise<EnablePushResult> => {
    const setup = await push.setup(prompt);
    if (disposed()) return { ok: false, error: disposedError() };
    if (!setup.ok) {
      onPushError(setup.error);
      return { ok: false, error: setup.error };
    }
    refusal = null;
    current = 'push';
    reconcile();
    await moving;
    onChange();
    if (current !== 'push' && refusal) return { ok: false, error: refusal };
    return { ok: true };
  };

  return {
    get current() {
      return current;
    },
    target,
    reconcile,
    useStream,
    usePush,
    async pushChanged(cause) {
      if (current !== 'push') return;
      const permission = await push.permission();
      if (cause === 'permission' && permission !== 'granted') {
        push.forget();
        return useStream();
      }
      // A replaced subscription: register the new one and move there; else back to the stream.
      push.forget();
      const setup = await push.setup(false);
      if (!setup.ok) return useStream(setup.error);
      reconcile();
    },
    subscriptionUnknown() {
      if (current !== 'push') return;
      push.forget();
      current = 'stream';
      // Put the browser's subscription again and move back, where the permission still holds.
      void push.permission().then((permission) => {
        if (permission === 'granted' && !disposed() && current === 'stream') void usePush(false);
      });
    },
    async settled() {
      await moving;
    },
    abandonMove() {
      moveGeneration++;
      moving = null;
    },
  };
}
