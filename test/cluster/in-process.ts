/**
 * Several Yoga instances with `useWebPush` in one process, sharing one store and one replayable
 * pubsub, as several servers share Redis. For fast, deterministic tests of instance leases and
 * the adoption of execution groups.
 */
import { makeExecutableSchema } from '@graphql-tools/schema';
import { createGraphQLError, type YogaServerInstance } from 'graphql-yoga';
import type { Envelope } from '../../protocol/index.js';
import { createPubSub } from '../../server/pubsub/index.js';
import { createMemoryStore } from '../../server/store/memory.js';
import type { Store } from '../../server/store/types.js';
import {
  createBrowserKeys,
  createRecordingSender,
  newTabId,
  type RecordingSender,
} from '../../server/test-support.js';
import { generateVapidKeys } from '../../server/vapid.js';
import { createTestYoga } from '../support/yoga.js';

/** What the shared schema's resolvers saw. */
export interface Observed {
  /** `authorization` header of every subscribe call, in order. */
  authorizations: (string | null)[];
  /** Streams whose `return()` ran. */
  returned: number;
  /** Tokens the subscribe resolver refuses from now on. */
  revoked: Set<string>;
  /** While true, the context factory fails (a session store that is down): Yoga answers 500. */
  contextDown: boolean;
  /** Requests the failing context factory refused. */
  contextFailures: number;
}

const SUBSCRIPTION = 'subscription($p: ID!) { stockChanged(productId: $p) { id stock } }';

/** A store whose every call throws while `cut` is true: an instance cut off from Redis. */
export function partitionable(store: Store): { store: Store; cut: boolean } {
  const state = { cut: false, store };
  state.store = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      // `listen` answers at once; a cut-off instance's listeners just hear nothing new.
      if (typeof value !== 'function' || key === 'listen') return value;
      return async (...args: unknown[]) => {
        if (state.cut) throw new Error('store unreachable');
        return value.apply(target, args);
      };
    },
  });
  return state;
}

/**
 * A shared store and pubsub, and a way to start instances on them.
 * @param options - lease timing for every instance
 */
export function createCluster({ leaseTtlMs = 300, adoptIntervalMs = 40 } = {}) {
  const store = createMemoryStore();
  const pubSub = createPubSub<{
    stock: [productId: string, product: { id: string; stock: number }];
  }>();
  const observed: Observed = {
    authorizations: [],
    returned: 0,
    revoked: new Set(),
    contextDown: false,
    contextFailures: 0,
  };
  const vapid = { subject: 'mailto:ops@example.com', ...generateVapidKeys() };
  const instances: { yoga: YogaServerInstance<object, object>; sender: RecordingSender }[] = [];

  const schema = makeExecutableSchema({
    typeDefs: /* GraphQL */ `
      type Product { id: ID!, stock: Int! }
      type Query { ok: Boolean }
      type Subscription { stockChanged(productId: ID!): Product! }
    `,
    resolvers: {
      Subscription: {
        stockChanged: {
          subscribe: (
            _: unknown,
            { productId }: { productId: string },
            context: { request: Request },
          ) => {
            const authorization = context.request.headers.get('authorization');
            observed.authorizations.push(authorization);
            if (authorization !== null && observed.revoked.has(authorization)) {
              throw createGraphQLError('Not signed in', {
                extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
              });
            }
            const source = pubSub.subscribe('stock', productId);
            return {
              next: () => source.next(),
              return: async () => {
                observed.returned += 1;
                return source.return();
              },
              [Symbol.asyncIterator]() {
                return this;
              },
            };
          },
          resolve: (product: unknown) => product,
        },
      },
    },
  });

  /** Starts an instance on the shared pubsub and `instanceStore` (default: the shared store). */
  function start(name: string, instanceStore: Store = store) {
    const sender = createRecordingSender();
    const { yoga } = createTestYoga({
      schema,
      context: () => {
        if (observed.contextDown) {
          observed.contextFailures += 1;
          throw new Error('session store unreachable');
        }
        return {};
      },
      vapid,
      store: instanceStore,
      sender,
      instanceId: name,
      leaseTtlMs,
      adoptIntervalMs,
    });
    instances.push({ yoga, sender });
    return { yoga, sender };
  }

  /** PUTs a push subscription and registers `stockChanged(productId)` through `yoga`. */
  async function register(
    yoga: YogaServerInstance<object, object>,
    productId: string,
    headers: Record<string, string> = {},
  ): Promise<{ registrationId: string; tabId: string }> {
    const put = await yoga.fetch('http://yoga/graphql/push/subscriptions', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        endpoint: `http://127.0.0.1:9999/push/${newTabId()}`,
        keys: createBrowserKeys(),
      }),
    });
    const { subscriptionId } = (await put.json()) as { subscriptionId: string };
    const tabId = newTabId();
    const answer = await yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-graphql-web-push': 'register',
        ...headers,
      },
      body: JSON.stringify({
        query: SUBSCRIPTION,
        variables: { p: productId },
        extensions: { webPush: { subscriptionId, tabId, operationKey: '1' } },
      }),
    });
    const body = (await answer.json()) as {
      extensions?: { webPush?: { registrationId: string } };
    };
    const registrationId = body.extensions?.webPush?.registrationId;
    if (answer.status !== 200 || !registrationId) {
      throw new Error(`register: ${answer.status} ${JSON.stringify(body)}`);
    }
    return { registrationId, tabId };
  }

  /** Every envelope of a registration any instance sent, in the order they were sent. */
  const envelopesOf = (registrationId: string): Envelope[] =>
    instances.flatMap(({ sender }) =>
      sender.sent.flatMap((m) => m.envelopes.filter((e) => e.reg === registrationId)),
    );

  /** The stock values an instance's sender pushed for a registration. */
  const stocksSentBy = (sender: RecordingSender, registrationId: string): number[] =>
    sender.sent
      .flatMap((m) => m.envelopes)
      .filter((e) => e.reg === registrationId && e.type === 'next')
      .map(
        (e) => (e.payload as { data: { stockChanged: { stock: number } } }).data.stockChanged.stock,
      );

  const publish = (productId: string, stock: number) =>
    pubSub.publish('stock', productId, { id: productId, stock });

  async function close(): Promise<void> {
    await Promise.all(instances.map(({ yoga }) => yoga.dispose()));
    await pubSub.close();
  }

  /** The execution group a registration belongs to, as stored. */
  const groupOf = async (registrationId: string) => {
    const record = await store.getRegistration(registrationId);
    return record ? store.getGroup(record.groupId) : null;
  };

  /** Ids of the groups whose owner's lease has ended at `now`. */
  const orphans = async (now = Date.now()) =>
    (await store.listOrphans(now, 1_000)).map((orphan) => orphan.groupId);

  return {
    store,
    pubSub,
    observed,
    start,
    register,
    envelopesOf,
    stocksSentBy,
    publish,
    groupOf,
    orphans,
    close,
  };
}
