/**
 * `graphql-web-push/link/apollo`: an Apollo Client link over the graphql-web-push client, used
 * like Apollo's `GraphQLWsLink`.
 * @packageDocumentation
 */
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { ApolloLink } from '@apollo/client/link';
import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';
import { print } from 'graphql';
import { Observable } from 'rxjs';
import { EXTENSION_KEY, RESYNC_CODE } from '../../protocol/index.js';
import type { WebPushClient } from '../client.js';
import type { WebPushOperationContext } from '../operations.js';

/**
 * Apollo drops a subscription result with neither `data` nor errors, so a resync notice travels
 * as a result with one error that carries the code: the subscription goes on, and the app sees
 * `error.errors[0].extensions.code === 'WEB_PUSH_RESYNC'`.
 */
function forApollo(result: FormattedExecutionResult): ApolloLink.Result {
  const notice = result.extensions?.[EXTENSION_KEY] as { code?: unknown } | undefined;
  if (result.data !== undefined || notice?.code !== RESYNC_CODE) {
    return result as ApolloLink.Result;
  }
  return {
    errors: [
      {
        message: 'The subscription was re-established and may have missed events: read again',
        extensions: { ...notice },
      },
    ],
    ...(result.extensions ? { extensions: result.extensions } : {}),
  } as ApolloLink.Result;
}

/**
 * A terminating Apollo link that runs operations (subscriptions, in a `split`) over Web Push and
 * the resumable stream.
 *
 * @remarks A class because Apollo's links are classes. Each event is one result, exactly once and
 * in order; a resync (continuity lost and re-established) is a result whose error has the code
 * `WEB_PUSH_RESYNC` in its first GraphQL error's `extensions` (Apollo drops results without data
 * or errors); the subscription goes on. GraphQL errors that end a subscription become
 * a `CombinedGraphQLErrors`; the client's own failures are `WebPushLinkError`s. Apollo's
 * operation context may say `{ webPush: { background: true } }` for a background registration.
 * @example
 * ```ts
 * import { ApolloClient, HttpLink, InMemoryCache, split } from '@apollo/client';
 * import { getMainDefinition } from '@apollo/client/utilities';
 * import { browserPushTransport, createClient } from 'graphql-web-push/link';
 * import { WebPushLink } from 'graphql-web-push/link/apollo';
 *
 * const pushLink = new WebPushLink(createClient({ url, transport: browserPushTransport() }));
 * const link = split(
 *   ({ query }) => {
 *     const definition = getMainDefinition(query);
 *     return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
 *   },
 *   pushLink,
 *   new HttpLink({ uri: url }),
 * );
 * const apollo = new ApolloClient({ link, cache: new InMemoryCache() });
 * ```
 */
export class WebPushLink extends ApolloLink {
  /** The client the link sends operations to; `enablePush()`, `mode` and events live there. */
  readonly client: WebPushClient;

  /**
   * @param client - made with `createClient` from `graphql-web-push/link`
   */
  constructor(client: WebPushClient) {
    super();
    this.client = client;
  }

  /**
   * Runs one operation.
   * @param operation - Apollo's operation
   * @returns the results, until the subscription ends or is unsubscribed
   */
  override request(operation: ApolloLink.Operation): Observable<ApolloLink.Result> {
    const { query, variables, operationName, extensions } = operation;
    const webPush = (operation.getContext() as { webPush?: WebPushOperationContext }).webPush;
    return new Observable<ApolloLink.Result>((observer) =>
      this.client.subscribe(
        {
          query: print(query),
          variables: variables as Record<string, unknown>,
          operationName: operationName ?? null,
          extensions: (extensions as Record<string, unknown> | undefined) ?? null,
        },
        {
          next: (result) => observer.next(forApollo(result)),
          complete: () => observer.complete(),
          error: (error) => {
            if (error instanceof Error) {
              observer.error(error);
              return;
            }
            // An array of GraphQL errors: the registration was refused, or the source failed.
            const errors = (Array.isArray(error) ? error : [error]) as GraphQLFormattedError[];
            observer.error(new CombinedGraphQLErrors({ errors }));
          },
        },
        webPush?.background ? { background: true } : {},
      ),
    );
  }
}
