import { randomBytes } from 'node:crypto';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { createMemoryStore, generateVapidKeys, useWebPush } from '../server/index.js';
import type { PushSender } from '../server/push/index.js';
import { createBrowserKeys } from '../server/test-support.js';
import { createInventorySchema } from '../test/support/inventory-schema.js';
import { heapAfterGc } from './child.js';
import { compare, measurement, type SuiteResult } from './harness.js';

const COUNT = 2000;
const TABS_PER_BROWSER = 10;
const ROUNDS = 3;
const ENDPOINT_ORIGIN = 'http://127.0.0.1:9';
const QUERY = 'subscription ($p: ID!) { stockChanged(productId: $p) { id stock } }';

/** How the registrations of a round relate. */
type Case = 'shared' | 'distinct';

/**
 * Heap held per idle subscription, after `global.gc()`, the registering requests finished:
 * - shared: 2,000 Web Push registrations of one operation (same document and variables, no kept
 *   headers: one execution group), 200 browsers × 10 tabs, memory store;
 * - distinct: the same, but each with its own variables, so each is its own group (one live
 *   execution each), for honesty;
 * - the same operation held open over Yoga's SSE transport, 2,000 times: what a
 *   connection-per-tab server keeps.
 * All through Yoga and the plugin in this process, the three interleaved round by round; push
 * subscriptions are stored before the baseline heap is read.
 */
export async function run(): Promise<SuiteResult> {
  const shared: number[] = [];
  const distinct: number[] = [];
  const sse: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    shared.push(await perPushRegistration('shared'));
    distinct.push(await perPushRegistration('distinct'));
    sse.push(await perSseSubscription());
  }
  const sharedM = measurement(
    'idle-heap.push-registration.shared-group',
    'bytes/registration',
    shared,
  );
  const distinctM = measurement(
    'idle-heap.push-registration.own-group',
    'bytes/registration',
    distinct,
  );
  const sseM = measurement('idle-heap.sse-subscription', 'bytes/subscription', sse);
  return {
    suite: 'idle-memory',
    measurements: [sharedM, distinctM, sseM],
    comparisons: [
      compare('idle heap, registration in a shared group / SSE subscription', sharedM, sseM),
      compare('idle heap, registration in its own group / SSE subscription', distinctM, sseM),
    ],
    notes: [
      `${COUNT} subscriptions per case and round, ${ROUNDS} rounds; heapUsed after global.gc() before and after the registrations, divided by their count; memory store, no events. Target: ≤ 2,048 bytes per registration in a shared group.`,
    ],
  };
}

const idleSender: PushSender = {
  send: async () => ({ ok: true, status: 201, attempts: 1 }),
  close: async () => {},
};

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

async function perPushRegistration(kind: Case): Promise<number> {
  const { schema } = createInventorySchema();
  const yoga = createYoga({
    schema,
    logging: false,
    plugins: [
      useWebPush({
        vapid: { subject: 'mailto:bench@example.com', ...generateVapidKeys() },
        store: createMemoryStore(),
        sender: idleSender,
        allowedPushOrigins: [ENDPOINT_ORIGIN],
        registrationTtlMs: 600_000,
      }),
    ],
  });
  const subscriptionIds: string[] = [];
  for (let i = 0; i < COUNT / TABS_PER_BROWSER; i++) {
    const { subscriptionId } = (await post(
      yoga,
      '/graphql/push/subscriptions',
      {
        endpoint: `${ENDPOINT_ORIGIN}/push/${randomBytes(8).toString('hex')}`,
        keys: createBrowserKeys(),
      },
      'PUT',
    )) as { subscriptionId: string };
    subscriptionIds.push(subscriptionId);
  }
  const before = await heapAfterGc();
  for (let i = 0; i < COUNT; i++) {
    await post(yoga, '/graphql', {
      query: QUERY,
      variables: { p: kind === 'shared' ? 'p1' : `p${i}` },
      extensions: {
        webPush: {
          subscriptionId: subscriptionIds[i % subscriptionIds.length],
          tabId: randomBytes(16).toString('base64url'),
          operationKey: 'stock',
        },
      },
    });
  }
  const after = await heapAfterGc();
  await yoga.dispose();
  return (after - before) / COUNT;
}

async function perSseSubscription(): Promise<number> {
  const { schema } = createInventorySchema();
  const yoga = createYoga({ schema, logging: false });
  const before = await heapAfterGc();
  const open: ReadableStreamDefaultReader<Uint8Array>[] = [];
  for (let i = 0; i < COUNT; i++) {
    const res = await yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: QUERY, variables: { p: 'p1' } }),
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    // Yoga starts the subscription when the stream is first read; keep it pending.
    void reader.read();
    open.push(reader);
  }
  await new Promise((r) => setTimeout(r, 50));
  const after = await heapAfterGc();
  await Promise.all(open.map((reader) => reader.cancel()));
  await yoga.dispose();
  return (after - before) / COUNT;
}
