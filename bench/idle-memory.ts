import { randomBytes } from 'node:crypto';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { createMemoryStore, generateVapidKeys, useWebPush } from '../server/index.js';
import type { PushSender } from '../server/push/index.js';
import { createBrowserKeys } from '../server/test-support.js';
import { createInventorySchema } from '../test/support/inventory-schema.js';
import { compare, measurement, type SuiteResult } from './harness.js';

const COUNT = 2000;
const ROUNDS = 3;
const ENDPOINT_ORIGIN = 'http://127.0.0.1:9';
const QUERY = 'subscription ($p: ID!) { stockChanged(productId: $p) { id stock } }';

/**
 * Heap held per idle subscription: a Web Push registration (memory store) against the same
 * subscription held open over Yoga's SSE transport, which is what a connection-per-tab server
 * keeps. Both run the same schema in the same process; figures are heap bytes after a full GC.
 */
export async function run(): Promise<SuiteResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the benchmarks with node --expose-gc (npm run bench does)');
  const push: number[] = [];
  const sse: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    push.push(await perPushRegistration(gc));
    sse.push(await perSseSubscription(gc));
  }
  const pushM = measurement('idle-heap.push-registration', 'bytes/subscription', push);
  const sseM = measurement('idle-heap.sse-subscription', 'bytes/subscription', sse);
  return {
    suite: 'idle-memory',
    measurements: [pushM, sseM],
    comparisons: [compare('idle heap per subscription, push / SSE', pushM, sseM)],
    notes: [`${COUNT} subscriptions per round, heap after global.gc(); memory store, no events`],
  };
}

const idleSender: PushSender = {
  send: async () => ({ ok: true, status: 201, attempts: 1 }),
  close: async () => {},
};

async function heapAfterGc(gc: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

async function post(
  yoga: YogaServerInstance<object, object>,
  path: string,
  body: unknown,
  method = 'POST',
) {
  const res = await yoga.fetch(`http://yoga${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      'x-graphql-web-push': 'register',
    },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function perPushRegistration(gc: () => void): Promise<number> {
  const { schema } = createInventorySchema();
  const store = createMemoryStore();
  const yoga = createYoga({
    schema,
    logging: false,
    plugins: [
      useWebPush({
        vapid: { subject: 'mailto:bench@example.com', ...generateVapidKeys() },
        store,
        sender: idleSender,
        allowedPushOrigins: [ENDPOINT_ORIGIN],
        registrationTtlMs: 600_000,
        maxRegistrationsPerTab: COUNT,
        maxRegistrationsPerSubscription: COUNT,
      }),
    ],
  });
  const { subscriptionId } = (await post(
    yoga,
    '/graphql/push/subscriptions',
    {
      endpoint: `${ENDPOINT_ORIGIN}/push/${randomBytes(8).toString('hex')}`,
      keys: createBrowserKeys(),
    },
    'PUT',
  )) as { subscriptionId: string };
  const tabId = randomBytes(16).toString('base64url');
  const before = await heapAfterGc(gc);
  for (let i = 0; i < COUNT; i++) {
    await post(yoga, '/graphql', {
      query: QUERY,
      variables: { p: `p${(i % 3) + 1}` },
      extensions: { webPush: { subscriptionId, tabId, operationKey: String(i) } },
    });
  }
  const after = await heapAfterGc(gc);
  await yoga.dispose();
  return (after - before) / COUNT;
}

async function perSseSubscription(gc: () => void): Promise<number> {
  const { schema } = createInventorySchema();
  const yoga = createYoga({ schema, logging: false });
  const before = await heapAfterGc(gc);
  const open: ReadableStreamDefaultReader<Uint8Array>[] = [];
  for (let i = 0; i < COUNT; i++) {
    const res = await yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: QUERY, variables: { p: `p${(i % 3) + 1}` } }),
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    // Yoga starts the subscription when the stream is first read; keep it pending.
    void reader.read();
    open.push(reader);
  }
  await new Promise((r) => setTimeout(r, 50));
  const after = await heapAfterGc(gc);
  await Promise.all(open.map((reader) => reader.cancel()));
  await yoga.dispose();
  return (after - before) / COUNT;
}
