/**
 * One server instance of the multi-instance tests, run as a child process with `tsx`: Yoga with
 * `useWebPush` on a node:http server, the Redis store and the Redis Streams pubsub. Configured by
 * environment variables:
 *
 * - `REDIS_URL`, `REDIS_PREFIX` (store keys `PREFIX:…`, event streams `{PREFIX-events}:…`);
 * - `PUSH_ORIGIN` (accepted push endpoints), `VAPID_PUBLIC_KEY`, `VAPID_PRIVATE_KEY`;
 * - `INSTANCE_ID`, `PORT` (default 0), `LEASE_TTL_MS`, `REGISTRATION_TTL_MS`, `SWEEP_INTERVAL_MS`.
 *
 * Prints `{"ready":PORT}` on stdout once listening. SIGTERM hands over (stops taking requests,
 * `yoga.dispose()`, which releases the leases) and exits 0. Exits when stdin closes (the test
 * process is gone), so that no instance outlives a test run.
 */
import { makeExecutableSchema } from '@graphql-tools/schema';
import { Redis } from 'ioredis';
import { createPubSub, createRedisStore } from '../../server/index.js';
import { createTestYoga, serveLocally, TEST_VAPID_SUBJECT } from '../support/yoga.js';

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`instance: ${name} is not set`);
  return value;
};
const number = (name: string, fallback: number): number => Number(env(name, String(fallback)));

interface Product {
  id: string;
  stock: number;
}

const redis = new Redis(env('REDIS_URL'));
// Reconnects are expected (the Redis restart test); they are logged, never fatal.
redis.on('error', () => {});
const prefix = env('REDIS_PREFIX');
const pubSub = createPubSub<{ stockChanged: [productId: string, product: Product] }>({
  redis,
  prefix: `${prefix}-events`,
  onError: () => {},
});

const schema = makeExecutableSchema({
  typeDefs: /* GraphQL */ `
    type Product {
      id: ID!
      stock: Int!
    }
    type Query {
      instance: String!
    }
    type Mutation {
      setStock(productId: ID!, stock: Int!): Product!
    }
    type Subscription {
      stockChanged(productId: ID!): Product!
    }
  `,
  resolvers: {
    Query: { instance: () => env('INSTANCE_ID') },
    Mutation: {
      setStock: async (_: unknown, product: { productId: string; stock: number }) => {
        const payload = { id: product.productId, stock: product.stock };
        // Answered only once the event is in the stream: the test knows what was published.
        await pubSub.publish('stockChanged', product.productId, payload);
        return payload;
      },
    },
    Subscription: {
      stockChanged: {
        subscribe: (_: unknown, { productId }: { productId: string }) =>
          pubSub.subscribe('stockChanged', productId),
        resolve: (product: Product) => product,
      },
    },
  },
});

const { yoga } = createTestYoga({
  schema,
  logging: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'error',
  vapid: {
    subject: TEST_VAPID_SUBJECT,
    publicKey: env('VAPID_PUBLIC_KEY'),
    privateKey: env('VAPID_PRIVATE_KEY'),
  },
  store: createRedisStore({ redis, prefix }),
  allowedPushOrigins: [env('PUSH_ORIGIN')],
  instanceId: env('INSTANCE_ID'),
  leaseTtlMs: number('LEASE_TTL_MS', 5_000),
  registrationTtlMs: number('REGISTRATION_TTL_MS', 60_000),
  sweepIntervalMs: number('SWEEP_INTERVAL_MS', 1_000),
});

const { server, port } = await serveLocally(yoga, number('PORT', 0));
process.stdout.write(`${JSON.stringify({ ready: port })}\n`);

// The test process holds the other end of stdin: if it dies, so does this instance.
process.stdin.on('close', () => process.exit(1));
process.stdin.resume();

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    // No new requests; the ones under way finish.
    const stage = (name: string) => process.stderr.write(`sigterm: ${name}\n`);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await yoga.dispose();
    stage('disposed');
    await pubSub.close();
    server.closeAllConnections();
    await closed;
    stage('closed');
    await redis.quit();
    process.exit(0);
  })();
});
