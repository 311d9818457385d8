import { type Exchange, makeOperation, type Operation, type OperationResult } from '@urql/core';
import { filter, make, merge, mergeMap, pipe, share, takeUntil } from 'wonka';
import type { WebPushExchangeOptions } from './options.js';
import { createSession, type WebPushLinkSnapshot } from './session.js';

/** An exchange together with the handles to look into it and to stop it. */
export interface WebPushExchangeHandle {
  /** The urql exchange; put it before `fetchExchange`, after cache exchanges. */
  exchange: Exchange;
  /**
   * What the link holds right now: live registrations with their last seq and held envelopes,
   * envelopes waiting for their registration, dedup memory size.
   */
  inspect(): WebPushLinkSnapshot;
  /**
   * Renews every registration now, as the timer would: acknowledges what was handed on, and
   * fills the gaps the server reports from its log unless their pushes arrive within
   * `gapWaitMs`.
   */
  renew(): Promise<void>;
  /** Ends and unregisters every operation and removes listeners and timers. */
  dispose(): void;
}

/**
 * Creates {@link webPushExchange}'s exchange and returns it with a debugging handle.
 * @param options - see {@link WebPushExchangeOptions}.
 * @returns the exchange, `inspect()`, `renew()` and `dispose()`.
 * @remarks The state lives in the returned object, so use one per `Client`.
 * @example
 * ```ts
 * const push = webPushExchangeWithHandle({ url, transport: browserPushTransport() });
 * const client = new Client({ url, exchanges: [cacheExchange, push.exchange, fetchExchange] });
 * console.log(push.inspect().registrations);
 * ```
 */
export function webPushExchangeWithHandle(options: WebPushExchangeOptions): WebPushExchangeHandle {
  const { shouldHandle = (operation) => operation.kind === 'subscription' } = options;
  const session = createSession(options);
  const handles = (operation: Operation) =>
    operation.kind !== 'teardown' && shouldHandle(operation);

  const exchange: Exchange =
    ({ forward, client }) =>
    (ops$) => {
      const shared$ = share(ops$);

      const pushed$ = pipe(
        shared$,
        filter(handles),
        mergeMap((operation) => {
          const teardown$ = pipe(
            shared$,
            filter((op) => op.kind === 'teardown' && op.key === operation.key),
          );
          return pipe(
            make<OperationResult>((observer) => {
              let ended = false;
              return session.start(operation, {
                next(result) {
                  ended = !result.hasNext;
                  observer.next(result);
                },
                complete() {
                  // The client ends a subscription's source on a result without `hasNext`;
                  // a bare `complete` has none, so tear the operation down as urql does.
                  if (!ended) {
                    client.reexecuteOperation(
                      makeOperation('teardown', operation, operation.context),
                    );
                  }
                  observer.complete();
                },
              });
            }),
            takeUntil(teardown$),
          );
        }),
      );

      const forwarded$ = pipe(
        shared$,
        filter((operation) => !handles(operation)),
        forward,
      );

      return merge([pushed$, forwarded$]);
    };

  return {
    exchange,
    inspect: session.inspect,
    renew: session.renew,
    dispose: session.dispose,
  };
}

/**
 * An urql exchange that runs subscription operations over Web Push.
 * @param options - see {@link WebPushExchangeOptions}.
 * @returns the exchange; put it before `fetchExchange` (and after cache exchanges, so that
 * graphcache's `updates.Subscription` runs for every event).
 * @remarks Each subscription operation becomes a registration on the server (a `POST` to the
 * GraphQL endpoint with `extensions.webPush`), renewed while it runs and unregistered on
 * teardown. Push messages arrive through `options.transport`; the exchange keeps only this
 * tab's, drops duplicates, restores seq order, fetches missing or oversized messages from the
 * server's log and emits one result per event, each exactly once. A reload resumes the tab's
 * registrations from `sessionStorage` without a gap. Other operations are forwarded. Failures
 * become error results (`CombinedError.networkError` is a `WebPushLinkError`); nothing throws
 * into the stream.
 * @example
 * ```ts
 * const client = new Client({
 *   url: 'https://example.com/graphql',
 *   exchanges: [
 *     cacheExchange,
 *     webPushExchange({ url: 'https://example.com/graphql', transport: browserPushTransport() }),
 *     fetchExchange,
 *   ],
 * });
 * ```
 */
export function webPushExchange(options: WebPushExchangeOptions): Exchange {
  return webPushExchangeWithHandle(options).exchange;
}
