/**
 * The example's schema for several instances: the types and operations of schema.ts, with the
 * stock in Redis and its changes on graphql-web-push's Redis Streams pubsub. Every instance then
 * sells from one stock, a change made on any instance reaches every registration, and an instance
 * that adopts a registration resumes right after the last event it became a message for.
 */
import { addResolversToSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import { createPubSub, type ReplayablePubSub } from '../../server/index.js';
import { initialProducts, type Product } from './catalog.js';
import { createInventorySchema } from './schema.js';

/** Options of {@link createSharedInventory}. */
export interface SharedInventoryOptions {
  /** The Redis the instances share. It stays the caller's. */
  redis: Redis;
  /** First segment of the stock key and of the event streams. */
  prefix: string;
}

/** The schema and the pubsub behind it. */
export interface SharedInventory {
  schema: GraphQLSchema;
  pubSub: ReplayablePubSub<{ stockChanged: [productId: string, product: Product] }>;
}

// Takes `quantity` out of the stock only if that many are left, in one step for all instances.
// Answers { 1, new stock } or { 0, stock left }.
const BUY = `
local stock = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
local quantity = tonumber(ARGV[2])
if stock < quantity then return { 0, stock } end
return { 1, redis.call('HINCRBY', KEYS[1], ARGV[1], -quantity) }
`;

/**
 * Builds the shared schema and puts the example's stock into Redis unless it is there already
 * (the first instance to start sets it; a restart keeps what was sold).
 * @param options - see {@link SharedInventoryOptions}
 * @returns the schema and its pubsub; close the pubsub when the instance stops
 */
export async function createSharedInventory({
  redis,
  prefix,
}: SharedInventoryOptions): Promise<SharedInventory> {
  const stockKey = `${prefix}:stock`;
  const catalog = new Map(initialProducts().map((product) => [product.id, product]));
  for (const product of catalog.values()) {
    await redis.hsetnx(stockKey, product.id, product.stock);
  }
  const pubSub = createPubSub<{ stockChanged: [productId: string, product: Product] }>({
    redis,
    prefix: `${prefix}-events`,
  });

  const find = (productId: string): Product => {
    const product = catalog.get(productId);
    if (!product) {
      throw createGraphQLError(`No product ${productId}`, {
        extensions: { code: 'PRODUCT_NOT_FOUND' },
      });
    }
    return product;
  };
  const positive = (quantity: number): number => {
    if (!Number.isSafeInteger(quantity) || quantity < 1) {
      throw createGraphQLError('quantity must be a positive integer', {
        extensions: { code: 'BAD_QUANTITY' },
      });
    }
    return quantity;
  };
  // Answered once the event is stored: whoever reads the stock next sees a change on its way.
  const changed = async (productId: string, stock: number): Promise<Product> => {
    const product = { ...find(productId), stock };
    await pubSub.publish('stockChanged', productId, product);
    return product;
  };

  const resolvers = {
    Query: {
      products: async () => {
        const stock = await redis.hgetall(stockKey);
        return [...catalog.values()].map((product) => ({
          ...product,
          stock: Number(stock[product.id] ?? product.stock),
        }));
      },
      product: async (_: unknown, { id }: { id: string }) => {
        const product = catalog.get(id);
        return product ? { ...product, stock: Number(await redis.hget(stockKey, id)) } : null;
      },
    },
    Mutation: {
      buy: async (_: unknown, { productId, quantity }: { productId: string; quantity: number }) => {
        const product = find(productId);
        const [bought, stock] = (await redis.eval(
          BUY,
          1,
          stockKey,
          productId,
          positive(quantity),
        )) as [number, number];
        if (!bought) {
          throw createGraphQLError(`Only ${stock} left of ${product.name}`, {
            extensions: { code: 'OUT_OF_STOCK' },
          });
        }
        return changed(productId, stock);
      },
      restock: async (
        _: unknown,
        { productId, quantity }: { productId: string; quantity: number },
      ) => {
        find(productId);
        return changed(productId, await redis.hincrby(stockKey, productId, positive(quantity)));
      },
    },
    Subscription: {
      stockChanged: {
        subscribe: (_: unknown, { productId }: { productId: string }) => {
          find(productId);
          return pubSub.subscribe('stockChanged', productId);
        },
        resolve: (product: Product) => product,
      },
    },
  };

  // The single-instance schema's types, with these resolvers in place of its in-memory ones.
  const schema = addResolversToSchema({ schema: createInventorySchema().schema, resolvers });
  return { schema, pubSub };
}
