/**
 * The server of the `stream` suite, run as a child process (`fork` with `--expose-gc` and
 * `tsx`), so that its heap and event loop are its own: Yoga with `useWebPush` (memory store, no
 * push service) on `node:http` over loopback, and Yoga's in-memory pubsub.
 *
 * The parent talks to it over IPC with `{ id, op }` requests, each answered `{ id, value }`:
 * - `publish` `{ topic, n }`: publishes a tick stamped with this process's clock;
 * - `clock`: this process's clock (epoch ms, sub-millisecond), to measure the offset to the
 *   parent's;
 * - `heap`: `heapUsed` after full collections.
 *
 * Sends `{ ready: port }` once listening; exits when the parent disconnects.
 */
import { setMaxListeners } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { createPubSub, createYoga } from 'graphql-yoga';
import { createMemoryStore, generateVapidKeys, useWebPush } from '../server/index.js';
import type { PushSender } from '../server/push/index.js';
import { type BenchRequest, clockMs } from './stream-child.js';

interface Tick {
  topic: string;
  n: number;
  publishedAt: number;
}

// Thousands of idle subscribers share a topic: Node would warn past 10 listeners per topic.
const eventTarget = new EventTarget();
setMaxListeners(0, eventTarget);
const pubSub = createPubSub<{ ticked: [topic: string, tick: Tick] }>({ eventTarget });

const schema = makeExecutableSchema({
  typeDefs: /* GraphQL */ `
    type Tick {
      topic: ID!
      n: Int!
      publishedAt: Float!
    }
    type Query {
      ok: Boolean
    }
    type Subscription {
      ticked(topic: ID!): Tick!
    }
  `,
  resolvers: {
    Subscription: {
      ticked: {
        subscribe: (_: unknown, { topic }: { topic: string }) => pubSub.subscribe('ticked', topic),
        resolve: (tick: Tick) => tick,
      },
    },
  },
});

// Stream-mode registrations have no push subscription; a send would be a bug in the bench.
const refusingSender: PushSender = {
  send: async () => {
    throw new Error('bench: stream-mode registrations must not be pushed');
  },
  close: async () => {},
};

const yoga = createYoga({
  schema,
  logging: false,
  plugins: [
    useWebPush({
      vapid: { subject: 'mailto:bench@example.com', ...generateVapidKeys() },
      store: createMemoryStore(),
      sender: refusingSender,
      // Nothing expires or reconnects while a round runs.
      registrationTtlMs: 600_000,
      streamMaxAgeMs: 600_000,
      maxStreams: 100_000,
    }),
  ],
});

const gc = (globalThis as { gc?: () => void }).gc;

async function heapAfterGc(): Promise<number> {
  if (!gc) throw new Error('stream-server: run with --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

async function answer(request: BenchRequest): Promise<unknown> {
  switch (request.op) {
    case 'publish':
      pubSub.publish('ticked', request.topic, {
        topic: request.topic,
        n: request.n,
        publishedAt: clockMs(),
      });
      return null;
    case 'clock':
      return clockMs();
    case 'heap':
      return heapAfterGc();
  }
}

process.on('message', (request: BenchRequest) => {
  void answer(request).then(
    (value) => process.send?.({ id: request.id, value }),
    (error: unknown) => process.send?.({ id: request.id, error: String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));

const server = createServer(yoga);
// Longer than Node's 5 s: the client reuses idle sockets between the phases of a round.
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ ready: (server.address() as AddressInfo).port });
});
