import {
  type Exchange,
  getOperationName,
  makeErrorResult,
  makeOperation,
  makeResult,
  type Operation,
  type OperationResult,
  stringifyDocument,
} from '@urql/core';
import type { FormattedExecutionResult, GraphQLError } from 'graphql';
import { filter, make, merge, mergeMap, pipe, share, takeUntil } from 'wonka';
import { EXTENSION_KEY, RESYNC_CODE } from '../../protocol/index.js';
import {
  type ClientMode,
  createClient,
  type EnablePushResult,
  type WebPushClient,
  type WebPushClientEvents,
  type WebPushLinkSnapshot,
} from '../client.js';
import { createLinkError, LinkErrorCode } from '../errors.js';
import type { WebPushOperationContext } from '../operations.js';
import type { WebPushExchangeOptions } from './options.js';

/** An exchange together with its client and the handles apps use. */
export interface WebPushExchangeHandle {
  /** The urql exchange; put it before `fetchExchange`, after cache exchanges. */
  exchange: Exchange;
  /** The client under the exchange. */
  client: WebPushClient;
  /** How registrations reach the page right now: `push`, `stream`, `connecting` or `offline`. */
  readonly mode: ClientMode;
  /** Listens to the client's events (`mode`, `push-error`, `resync`). */
  on: WebPushClient['on'];
  /** Moves to Web Push from a click; see `WebPushClient.enablePush`. */
  enablePush(): Promise<EnablePushResult>;
  /** Moves back to the stream and drops the push subscription. */
  disablePush(): Promise<void>;
  /** What the client holds right now. */
  inspect(): WebPushLinkSnapshot;
  /** Renews every registration now and fills the gaps the server reports. */
  renew(): Promise<void>;
  /** Ends and unregisters every operation and removes listeners and timers. */
  dispose(): void;
}

const resolve = (init: RequestInit | (() => RequestInit) | undefined) =>
  typeof init === 'function' ? init() : init;

/** True for the result the client emits when continuity was lost. */
const isResync = (result: FormattedExecutionResult): boolean =>
  (result.extensions?.[EXTENSION_KEY] as { code?: unknown } | undefined)?.code === RESYNC_CODE &&
  result.data === undefined;

/**
 * The urql result of one of the client's results.
 * @param operation - the operation it answers
 * @param result - `{ data?, errors?, extensions? }`
 * @returns the result; a resync notice becomes a result with no data, no error and the notice in
 * `extensions`; a result with neither data nor errors becomes an error result instead of
 * throwing into the stream
 */
export function resultOf(operation: Operation, result: FormattedExecutionResult): OperationResult {
  if (isResync(result)) {
    return {
      operation,
      data: undefined,
      error: undefined,
      extensions: result.extensions as Record<string, unknown>,
      stale: false,
      hasNext: true,
    };
  }
  try {
    return makeResult(operation, result as Parameters<typeof makeResult>[1]);
  } catch (cause) {
    return makeErrorResult(
      operation,
      createLinkError(LinkErrorCode.BadResponse, 'a message carried no result', { cause }),
    );
  }
}

/**
 * Creates {@link webPushExchange}'s exchange and returns it with its client and handles.
 * @param options - the client's options (see `WebPushClientOptions`), or `{ client }`
 * @returns the exchange, the client, `mode`, `on`, `enablePush()`, `inspect()`, `renew()` and
 * `dispose()`
 * @remarks The state lives in the client, so use one per urql `Client`.
 * @example
 * ```ts
 * const push = webPushExchangeWithHandle({ url, transport: browserPushTransport() });
 * const client = new Client({ url, exchanges: [cacheExchange, push.exchange, fetchExchange] });
 * button.onclick = () => push.enablePush();
 * ```
 */
export function webPushExchangeWithHandle(options: WebPushExchangeOptions): WebPushExchangeHandle {
  const { shouldHandle = (operation) => operation.kind === 'subscription' } = options;
  // urql's per-client fetch and fetchOptions live in each operation's context.
  let context: Operation['context'] | undefined;
  const client =
    'client' in options
      ? options.client
      : createClient({
          ...options,
          fetch:
            options.fetch ?? ((input, init) => (context?.fetch ?? globalThis.fetch)(input, init)),
          fetchOptions: () => {
            const base = resolve(context?.fetchOptions);
            const over = resolve(options.fetchOptions);
            if (!base || !over) return over ?? base ?? {};
            const headers = new Headers(base.headers);
            new Headers(over.headers).forEach((value, name) => {
              headers.set(name, value);
            });
            return { ...base, ...over, headers };
          },
        });
  const handles = (operation: Operation) =>
    operation.kind !== 'teardown' && shouldHandle(operation);

  const exchange: Exchange =
    ({ forward, client: urqlClient }) =>
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
              context = operation.context;
              let ended = false;
              const end = () => {
                // The client ends a subscription's source on a result without `hasNext`; a
                // bare `complete` has none, so tear the operation down as urql does.
                if (!ended) {
                  urqlClient.reexecuteOperation(
                    makeOperation('teardown', operation, operation.context),
                  );
                }
                observer.complete();
              };
              const operationName = getOperationName(operation.query);
              const webPush = (operation.context as { webPush?: WebPushOperationContext }).webPush;
              return client.subscribe(
                {
                  query: stringifyDocument(operation.query),
                  variables: (operation.variables as Record<string, unknown>) ?? null,
                  operationName: operationName ?? null,
                  extensions: (operation.extensions as Record<string, unknown>) ?? null,
                },
                {
                  next(result) {
                    observer.next(resultOf(operation, result));
                  },
                  error(error) {
                    ended = true;
                    observer.next(
                      Array.isArray(error)
                        ? {
                            ...makeResult(operation, { errors: error as GraphQLError[] }),
                            hasNext: false,
                          }
                        : makeErrorResult(operation, error as Error),
                    );
                    end();
                  },
                  complete: end,
                },
                {
                  key: String(operation.key),
                  ...(webPush?.background ? { background: true } : {}),
                },
              );
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
    client,
    get mode() {
      return client.mode;
    },
    on: <E extends keyof WebPushClientEvents>(
      event: E,
      listener: (value: WebPushClientEvents[E]) => void,
    ) => client.on(event, listener),
    enablePush: () => client.enablePush(),
    disablePush: () => client.disablePush(),
    inspect: () => client.inspect(),
    renew: () => client.renew(),
    dispose: () => client.dispose(),
  };
}

/**
 * An urql exchange that runs subscription operations over Web Push or the resumable stream.
 * @param options - the client's options (see `WebPushClientOptions`), or `{ client }`
 * @returns the exchange; put it before `fetchExchange` (and after cache exchanges, so that
 * graphcache's `updates.Subscription` runs for every event)
 * @remarks Each subscription operation becomes a registration on the server (a `POST` to the
 * GraphQL endpoint with `extensions.webPush`), renewed while it runs and unregistered on
 * teardown. The page is live on the stream at once and moves to push when the permission allows
 * (see `WebPushClient`). Every event is one urql result, exactly once and in order. Failures
 * become error results (`CombinedError.networkError` is a `WebPushLinkError`); a resync (continuity
 * lost and re-established) is a result with no data whose `extensions.webPush.code` is
 * `WEB_PUSH_RESYNC`. Other operations are forwarded.
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
