import { ApolloClient, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { split } from '@apollo/client/link';
import { getMainDefinition } from '@apollo/client/utilities';
import { afterEach, describe, expect, it } from 'vitest';
import { WebPushLink } from '../../link/apollo/index.js';
import { createClient } from '../../link/index.js';
import { RESYNC_CODE } from '../../protocol/index.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';

/** Real Apollo Client 4 with an InMemoryCache, its subscriptions over `WebPushLink`. */

let stack: Stack | undefined;
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await stack?.close();
  stack = undefined;
});

const STOCK_CHANGED = gql`
  subscription StockChanged($productId: ID!) {
    stockChanged(productId: $productId) {
      id
      stock
    }
  }
`;

function apolloFor(url: string) {
  const webPush = createClient({ url, storage: null, renewIntervalMs: 300 });
  cleanups.push(() => webPush.dispose());
  /** Every write of a product's stock into the cache, in order. */
  const writes: number[] = [];
  const cache = new InMemoryCache({
    typePolicies: {
      Product: {
        fields: {
          stock: {
            merge(_existing: number | undefined, incoming: number) {
              writes.push(incoming);
              return incoming;
            },
          },
        },
      },
    },
  });
  const link = split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
    },
    new WebPushLink(webPush),
    new HttpLink({ uri: url }),
  );
  const apollo = new ApolloClient({ link, cache });
  cleanups.push(() => apollo.stop());
  return { apollo, webPush, cache, writes };
}

describe('WebPushLink with Apollo Client 4', () => {
  it('writes each event to the InMemoryCache once, in order, like GraphQLWsLink in a split', async () => {
    stack = await startStack();
    const { apollo, webPush, cache, writes } = apolloFor(stack.url);
    const seen: number[] = [];
    const subscription = apollo
      .subscribe({ query: STOCK_CHANGED, variables: { productId: 'p1' } })
      .subscribe({
        next: ({ data }) => {
          const stock = (data as { stockChanged?: { stock: number } } | undefined)?.stockChanged
            ?.stock;
          if (stock !== undefined) seen.push(stock);
        },
      });
    cleanups.push(() => subscription.unsubscribe());
    await waitFor(() => webPush.inspect().registrations.length === 1, 'registered');

    for (let stock = 1; stock <= 20; stock++) await stack.setStock('p1', stock);

    const want = Array.from({ length: 20 }, (_, i) => i + 1);
    await waitFor(() => seen.length >= 20, '20 results');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen).toEqual(want);
    expect(writes).toEqual(want);
    expect(
      cache.readFragment({ id: 'Product:p1', fragment: gql`fragment S on Product { stock }` }),
    ).toMatchObject({ stock: 20 });
  });

  it('passes a resync through as a result whose error carries WEB_PUSH_RESYNC, and goes on', async () => {
    stack = await startStack({ registrationTtlMs: 400, sweepIntervalMs: 50 });
    const { apollo, webPush } = apolloFor(stack.url);
    const codes: unknown[] = [];
    const stocks: number[] = [];
    const subscription = apollo
      .subscribe({ query: STOCK_CHANGED, variables: { productId: 'p1' } })
      .subscribe({
        next: (result) => {
          const error = result.error as
            | { errors?: { extensions?: { code?: unknown } }[] }
            | undefined;
          if (error) codes.push(error.errors?.[0]?.extensions?.code);
          const stock = (result.data as { stockChanged?: { stock: number } } | undefined)
            ?.stockChanged?.stock;
          if (stock !== undefined) stocks.push(stock);
        },
      });
    cleanups.push(() => subscription.unsubscribe());
    await waitFor(() => webPush.inspect().registrations.length === 1, 'registered');
    const [first] = webPush.inspect().registrations;
    // The server loses the registration (as if the page had been away past its TTL).
    await stack.store.deleteRegistration(first?.registrationId as string);
    await webPush.renew();
    await waitFor(() => codes.includes(RESYNC_CODE), 'the resync result');
    // The subscription goes on, on its new registration.
    await waitFor(() => webPush.inspect().registrations.length === 1, 'registered again');
    await stack.setStock('p1', 5);
    await waitFor(() => stocks.includes(5), 'an event after the resync');
    expect(codes).toEqual([RESYNC_CODE]);
  });

  it('unregisters at the server when Apollo unsubscribes, and the server stops its execution', async () => {
    stack = await startStack();
    const { apollo, webPush } = apolloFor(stack.url);
    const subscription = apollo
      .subscribe({ query: STOCK_CHANGED, variables: { productId: 'p1' } })
      .subscribe({ next: () => {} });
    await waitFor(() => webPush.inspect().registrations.length === 1, 'registered');
    const [registration] = webPush.inspect().registrations;
    const id = registration?.registrationId as string;
    expect(await stack.store.getRegistration(id)).not.toBeNull();

    subscription.unsubscribe();

    await waitFor(async () => (await stack?.store.getRegistration(id)) === null, 'unregistered');
    expect(webPush.inspect().registrations).toEqual([]);
    // The group's stream ended with its last member: the resolver's return() ran.
    await waitFor(() => stack?.inventory.iterators.closed === 1, 'the execution stopped');
    expect(stack.inventory.iterators.opened).toBe(1);
  });

  it('fails the subscription with CombinedGraphQLErrors when the server refuses it', async () => {
    stack = await startStack();
    const { apollo } = apolloFor(stack.url);
    const failure = await new Promise<unknown>((resolve) => {
      apollo
        .subscribe({ query: gql`subscription { nope }` })
        .subscribe({ next: (result) => resolve(result.error), error: resolve });
    });
    expect((failure as Error).name).toBe('CombinedGraphQLErrors');
  });
});
