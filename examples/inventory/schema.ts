import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { createGraphQLError, createPubSub } from 'graphql-yoga';
import { initialProducts, type Product } from './catalog.js';

/** Options of {@link createInventorySchema}. */
export interface InventorySchemaOptions {
  /**
   * The products to start with.
   * @defaultValue `initialProducts()`
   */
  products?: Product[];
}

/** The example's schema and the state behind it. */
export interface InventorySchema {
  schema: GraphQLSchema;
  /** Products by id; the resolvers change these objects in place. */
  products: Map<string, Product>;
  /**
   * Sets a product's stock as the mutations do, and publishes the change.
   * @returns the updated product
   */
  setStock(productId: string, stock: number): Product;
}

const typeDefs = /* GraphQL */ `
  type Product {
    id: ID!
    name: String!
    description: String!
    priceCents: Int!
    stock: Int!
  }

  type Query {
    products: [Product!]!
    product(id: ID!): Product
  }

  type Mutation {
    "Takes quantity items out of stock; fails when fewer are left."
    buy(productId: ID!, quantity: Int! = 1): Product!
    "Puts quantity items back into stock."
    restock(productId: ID!, quantity: Int! = 10): Product!
  }

  type Subscription {
    "Every change of one product's stock."
    stockChanged(productId: ID!): Product!
  }
`;

/**
 * Builds the live-inventory schema: ordinary resolvers and a pub/sub topic per product. Nothing
 * in here knows about Web Push; the plugin turns `stockChanged` into push messages.
 * @param options - see {@link InventorySchemaOptions}
 * @returns the schema and its state
 */
export function createInventorySchema({
  products = initialProducts(),
}: InventorySchemaOptions = {}): InventorySchema {
  const pubSub = createPubSub<{ stockChanged: [productId: string, product: Product] }>();
  const byId = new Map(products.map((product) => [product.id, { ...product }]));

  const find = (productId: string): Product => {
    const product = byId.get(productId);
    if (!product) {
      throw createGraphQLError(`No product ${productId}`, {
        extensions: { code: 'PRODUCT_NOT_FOUND' },
      });
    }
    return product;
  };

  const setStock = (productId: string, stock: number): Product => {
    const product = find(productId);
    product.stock = stock;
    // Publish a copy: the subscriber must see this stock even if another change follows at once.
    pubSub.publish('stockChanged', productId, { ...product });
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

  const schema = makeExecutableSchema({
    typeDefs,
    resolvers: {
      Query: {
        products: () => [...byId.values()],
        product: (_: unknown, { id }: { id: string }) => byId.get(id) ?? null,
      },
      Mutation: {
        buy: (_: unknown, { productId, quantity }: { productId: string; quantity: number }) => {
          const product = find(productId);
          if (product.stock < positive(quantity)) {
            throw createGraphQLError(`Only ${product.stock} left of ${product.name}`, {
              extensions: { code: 'OUT_OF_STOCK' },
            });
          }
          return setStock(productId, product.stock - quantity);
        },
        restock: (_: unknown, { productId, quantity }: { productId: string; quantity: number }) =>
          setStock(productId, find(productId).stock + positive(quantity)),
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
    },
  });

  return { schema, products: byId, setStock };
}
