import { setMaxListeners } from 'node:events';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { createPubSub } from 'graphql-yoga';

/** A product as the fixture schema stores it. */
export interface Product {
  id: string;
  name: string;
  stock: number;
}

/**
 * The schema the end-to-end suites share: one subscription per product, a mutation that
 * publishes. `closed` counts how many subscription iterators had `return()` called, so a test can
 * prove that expiry and unregister really close the resolver's source.
 */
export function createInventorySchema(products: Product[] = defaultProducts()) {
  // Thousands of subscribers to one product are what the memory bench measures; Node would warn
  // past ten listeners on the pubsub's EventTarget.
  const eventTarget = new EventTarget();
  setMaxListeners(0, eventTarget);
  const pubSub = createPubSub<{ stockChanged: [productId: string, product: Product] }>({
    eventTarget,
  });
  const byId = new Map(products.map((p) => [p.id, { ...p }]));
  const iterators = { opened: 0, closed: 0 };

  const schema = makeExecutableSchema({
    typeDefs: /* GraphQL */ `
      type Product {
        id: ID!
        name: String!
        stock: Int!
      }
      type Query {
        product(id: ID!): Product
      }
      type Mutation {
        setStock(productId: ID!, stock: Int!): Product!
      }
      type Subscription {
        stockChanged(productId: ID!): Product!
      }
    `,
    resolvers: {
      Query: { product: (_: unknown, { id }: { id: string }) => byId.get(id) ?? null },
      Mutation: {
        setStock: (_: unknown, { productId, stock }: { productId: string; stock: number }) => {
          const product = byId.get(productId);
          if (!product) throw new Error(`no product ${productId}`);
          product.stock = stock;
          pubSub.publish('stockChanged', productId, { ...product });
          return product;
        },
      },
      Subscription: {
        stockChanged: {
          subscribe: (_: unknown, { productId }: { productId: string }) =>
            countClosing(pubSub.subscribe('stockChanged', productId), iterators),
          resolve: (product: Product) => product,
        },
      },
    },
  });
  return { schema, pubSub, iterators, products: byId };
}

function defaultProducts(): Product[] {
  return [
    { id: 'p1', name: 'Espresso machine', stock: 10 },
    { id: 'p2', name: 'Burr grinder', stock: 5 },
    { id: 'p3', name: 'Milk jug', stock: 40 },
  ];
}

/** Wraps an async iterable so that its `return()` is counted. */
function countClosing<T>(
  source: AsyncIterable<T>,
  counter: { opened: number; closed: number },
): AsyncIterableIterator<T> {
  const it = source[Symbol.asyncIterator]();
  counter.opened++;
  let closed = false;
  const wrapped: AsyncIterableIterator<T> = {
    next: () => it.next(),
    return: async (value?: unknown) => {
      if (!closed) {
        closed = true;
        counter.closed++;
      }
      return it.return ? it.return(value) : { done: true, value: undefined as T };
    },
    [Symbol.asyncIterator]() {
      return wrapped;
    },
  };
  return wrapped;
}
