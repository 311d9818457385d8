/**
 * The server of the push suites (`fanout`, `latency-rtt`, `publish-push`), run as a child
 * process (see `child.ts`) so that its CPU time is its own: Yoga with `useWebPush` (memory
 * store, the real sender wrapped by `recording-sender.ts`) on `node:http` over loopback, and
 * Yoga's in-memory pubsub. Configured by the environment:
 * - `BENCH_VAPID_PUBLIC_KEY`, `BENCH_VAPID_PRIVATE_KEY`, `BENCH_PUSH_ORIGIN` (allowed endpoints);
 * - `BENCH_CONCURRENCY` (`concurrencyPerOrigin`, else the sender's default);
 * - `BENCH_ENCRYPTION_WORKERS` (`encryptionWorkers`, else the sender's default);
 * - `BENCH_CA`: the certificate of a push service in secure mode (HTTP/2), PEM;
 * - `BENCH_LOCALHOST`: the address `localhost` resolves to here, so that pushes to a push
 *   service named `localhost` reach a delaying proxy on another loopback address while the
 *   endpoints, and so the VAPID audience, stay the service's own.
 *
 * Ops (see `serveBenchRequests`): `publish { productId, stock, expect, capture? }` → the event's
 * `EventCost`; `captured-pushes` → the last captured event's pushes, and `load { pushes }` to
 * take another process's; `floor`, `bare { inFlight }` and `web-push { inFlight }` → a
 * `BaselineCost` over the loaded or last captured pushes; `profile-start { kind }`,
 * `profile-stop { dir, name }` (see `profiler.ts`); `heap`. Sends its port as ready.
 * `push-bench.ts` runs two: one serves the events, the other the baselines.
 */
import dns from 'node:dns';
import { setMaxListeners } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { createPubSub, createYoga } from 'graphql-yoga';
import { createMemoryStore, useWebPush } from '../server/index.js';
import { createPushSender } from '../server/push/index.js';
import { sendBare } from './bare-send.js';
import { encryptionFloor, sendWithWebPush } from './by-hand.js';
import { heapAfterGc, serveBenchRequests } from './child.js';
import { type ProfileKind, startProfile, stopProfile } from './profiler.js';
import { type CapturedPush, createRecordingSender } from './recording-sender.js';

const env = process.env;
const required = (name: string): string => {
  const value = env[name];
  if (!value) throw new Error(`push-server: ${name} is not set`);
  return value;
};

const localhost = env.BENCH_LOCALHOST;
if (localhost) {
  // net looks `dns.lookup` up at every connection, so this reaches every client here.
  const lookup = dns.lookup;
  const patched = (host: string, options: unknown, callback?: unknown) => {
    const [opts, done] =
      typeof options === 'function' ? [{}, options] : [(options ?? {}) as object, callback];
    const reply = done as (error: null, address: unknown, family?: number) => void;
    if (host !== 'localhost') return Reflect.apply(lookup, dns, [host, opts, done]);
    if ((opts as { all?: boolean }).all) reply(null, [{ address: localhost, family: 4 }]);
    else reply(null, localhost, 4);
  };
  dns.lookup = patched as typeof dns.lookup;
}

interface Product {
  id: string;
  stock: number;
}

// Thousands of registrations may share one topic before groups collapse them.
const eventTarget = new EventTarget();
setMaxListeners(0, eventTarget);
const pubSub = createPubSub<{ stockChanged: [productId: string, product: Product] }>({
  eventTarget,
});

const schema = makeExecutableSchema({
  typeDefs: /* GraphQL */ `
    type Product {
      id: ID!
      stock: Int!
    }
    type Query {
      ok: Boolean
    }
    type Subscription {
      stockChanged(productId: ID!): Product!
    }
  `,
  resolvers: {
    Subscription: {
      stockChanged: {
        subscribe: (_: unknown, { productId }: { productId: string }) =>
          pubSub.subscribe('stockChanged', productId),
        resolve: (product: Product) => product,
      },
    },
  },
});

const vapid = {
  subject: 'mailto:bench@example.com',
  publicKey: required('BENCH_VAPID_PUBLIC_KEY'),
  privateKey: required('BENCH_VAPID_PRIVATE_KEY'),
};
const concurrency = env.BENCH_CONCURRENCY ? Number(env.BENCH_CONCURRENCY) : undefined;
const workers = env.BENCH_ENCRYPTION_WORKERS ? Number(env.BENCH_ENCRYPTION_WORKERS) : undefined;
const ca = env.BENCH_CA || undefined;
const recording = createRecordingSender((telemetry) =>
  createPushSender({
    vapid,
    telemetry,
    ...(concurrency === undefined ? {} : { concurrencyPerOrigin: concurrency }),
    ...(workers === undefined ? {} : { encryptionWorkers: workers }),
    ...(ca === undefined ? {} : { ca }),
  }),
);

const yoga = createYoga({
  schema,
  logging: false,
  plugins: [
    useWebPush({
      vapid,
      store: createMemoryStore(),
      sender: recording.sender,
      allowedPushOrigins: [required('BENCH_PUSH_ORIGIN')],
      // Nothing expires while a suite runs.
      registrationTtlMs: 600_000,
      maxRegistrations: 200_000,
      maxPushSubscriptions: 200_000,
    }),
  ],
});

/** A captured push as it crosses IPC. */
interface WirePush {
  target: CapturedPush['target'];
  plaintext: string;
  options: CapturedPush['options'];
}

/** Pushes captured in another process (see `load`); the baselines' process runs on these. */
let loaded: CapturedPush[] | undefined;

const captured = () => {
  const pushes = loaded ?? recording.captured();
  if (pushes.length === 0) throw new Error('push-server: publish with capture first');
  return pushes;
};

const server = createServer(yoga);
// Longer than Node's 5 s: the parent reuses idle sockets between its phases.
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  serveBenchRequests(
    {
      publish: ({ productId, stock, expect, capture }) =>
        recording.measure(
          () =>
            void pubSub.publish('stockChanged', String(productId), {
              id: String(productId),
              stock: Number(stock),
            }),
          { expect: Number(expect), capture: capture === true },
        ),
      'captured-pushes': (): WirePush[] =>
        captured().map(({ target, plaintext, options }) => ({
          target,
          plaintext: plaintext.toString('base64'),
          options,
        })),
      load: ({ pushes }) => {
        loaded = (pushes as WirePush[]).map(({ target, plaintext, options }) => ({
          target,
          plaintext: Buffer.from(plaintext, 'base64'),
          options,
        }));
        return loaded.length;
      },
      floor: () => encryptionFloor(captured()),
      'web-push': ({ inFlight }) => sendWithWebPush(captured(), vapid, Number(inFlight), ca),
      bare: ({ inFlight }) => sendBare(captured(), vapid, Number(inFlight), ca),
      'profile-start': ({ kind }) => startProfile(kind as ProfileKind),
      'profile-stop': ({ dir, name }) => stopProfile(String(dir), String(name)),
      heap: () => heapAfterGc(),
    },
    (server.address() as AddressInfo).port,
  );
});
