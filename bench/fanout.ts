import { randomBytes } from 'node:crypto';
import { createYoga } from 'graphql-yoga';
import webpush from 'web-push';
import type { PushSubscriptionData } from '../protocol/index.js';
import { createUserAgent, startPushService } from '../push-service/index.js';
import { createMemoryStore, generateVapidKeys, useWebPush } from '../server/index.js';
import { createInventorySchema } from '../test/support/inventory-schema.js';
import { compare, measurement, type SuiteResult } from './harness.js';

const BROWSERS = 10;
const PER_BROWSER = 50;
const EVENTS = 5;
const QUERY = 'subscription ($p: ID!) { stockChanged(productId: $p) { id stock } }';

/**
 * Fan-out: one event to 500 registrations (10 browsers × 50), through the whole server path
 * (execute per registration, append to the log, encrypt, VAPID, POST over keep-alive HTTP) to the
 * local push service, timed until the push service has accepted every message. The baseline sends
 * the same number of already-serialised messages with `web-push`'s `generateRequestDetails` and
 * Node's `fetch` (keep-alive, 8 in flight), i.e. what an application would do with web-push by hand, without any
 * GraphQL execution or message log.
 */
export async function run(): Promise<SuiteResult> {
  const service = await startPushService({
    port: 0,
    maxPendingPerUserAgent: Number.POSITIVE_INFINITY,
  });
  const vapid = { subject: 'mailto:bench@example.com', ...generateVapidKeys() };
  const subscriptions: PushSubscriptionData[] = [];
  for (let i = 0; i < BROWSERS; i++) {
    const ua = createUserAgent({ serviceUrl: service.wsUrl });
    subscriptions.push(await ua.subscribe(vapid.publicKey));
    // Offline browsers: the service stores the messages, so only the sending side is measured.
    await ua.close();
  }
  const inventory = createInventorySchema();
  const yoga = createYoga({
    schema: inventory.schema,
    logging: false,
    plugins: [
      useWebPush({
        vapid,
        store: createMemoryStore(),
        allowedPushOrigins: [service.origin],
        registrationTtlMs: 600_000,
        maxRegistrationsPerTab: PER_BROWSER,
        maxRegistrationsPerSubscription: PER_BROWSER,
      }),
    ],
  });
  const call = async (path: string, method: string, body: unknown) => {
    const res = await yoga.fetch(`http://yoga/graphql${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-graphql-web-push': 'register',
      },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, never>;
  };
  for (const subscription of subscriptions) {
    const { subscriptionId } = await call('/push/subscriptions', 'PUT', subscription);
    const tabId = randomBytes(16).toString('base64url');
    for (let i = 0; i < PER_BROWSER; i++) {
      await call('', 'POST', {
        query: QUERY,
        variables: { p: 'p1' },
        extensions: { webPush: { subscriptionId, tabId, operationKey: String(i) } },
      });
    }
  }
  const total = BROWSERS * PER_BROWSER;
  const acceptedReach = async (target: number) => {
    while (service.stats().accepted < target) await new Promise((r) => setTimeout(r, 1));
  };

  const ours: number[] = [];
  const baseline: number[] = [];
  const payload = Buffer.from(
    JSON.stringify({
      v: 1,
      id: 'r:1',
      tab: 't',
      reg: 'r',
      seq: 1,
      type: 'next',
      payload: { data: { stockChanged: { id: 'p1', stock: 1 } } },
    }),
  );
  for (let event = 1; event <= EVENTS; event++) {
    let start = performance.now();
    const target = service.stats().accepted + total;
    await inventory.pubSub.publish('stockChanged', 'p1', { id: 'p1', name: 'x', stock: event });
    await acceptedReach(target);
    ours.push((performance.now() - start) / total);

    start = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < total) {
          const subscription = subscriptions[next++ % BROWSERS] as PushSubscriptionData;
          const details = webpush.generateRequestDetails(subscription, payload, {
            vapidDetails: vapid,
            TTL: 60,
            contentEncoding: 'aes128gcm',
          });
          const res = await fetch(details.endpoint, {
            method: 'POST',
            headers: details.headers as Record<string, string>,
            body: new Uint8Array(details.body as Buffer),
          });
          await res.arrayBuffer();
        }
      }),
    );
    baseline.push((performance.now() - start) / total);
  }
  await yoga.dispose();
  await service.close();

  const oursM = measurement('fanout.ours', 'ms/message', ours);
  const baseM = measurement('fanout.web-push-by-hand', 'ms/message', baseline);
  return {
    suite: 'fanout',
    measurements: [oursM, baseM],
    comparisons: [
      compare('fan-out time per message, ours (whole path) / web-push by hand', oursM, baseM),
    ],
    notes: [
      `${EVENTS} events × ${total} registrations (${BROWSERS} push subscriptions); the local push service verifies VAPID on every request in the same process, which both sides pay`,
    ],
  };
}
