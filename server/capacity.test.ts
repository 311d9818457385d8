import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/index.js';
import {
  createBrowserKeys,
  createTestServer,
  newTabId,
  refusal,
  type TestServer,
} from './test-support.js';

/**
 * State any client can make the server hold is bounded: push subscriptions expire unused, the
 * store holds at most so many, and one client (the operator's `clientKey`) at most so many.
 */

let server: TestServer;
afterEach(async () => {
  await server.yoga.dispose();
});

const fcm = (n: number) => `https://fcm.googleapis.com/fcm/send/made-up-${n}`;

const put = (endpoint: string, headers: Record<string, string> = {}) =>
  server.call('PUT', '/push/subscriptions', { endpoint, keys: createBrowserKeys() }, headers);

describe('push subscriptions', () => {
  it('keeps one client from storing more than maxPushSubscriptionsPerClient made-up endpoints (429)', async () => {
    server = createTestServer({
      clientKey: (request) => request.headers.get('x-client'),
      maxPushSubscriptionsPerClient: 10,
    });
    const answers = [];
    for (let n = 0; n < 50; n++) answers.push(await put(fcm(n), { 'x-client': '203.0.113.7' }));

    expect(answers.filter((a) => a.status === 200)).toHaveLength(10);
    for (const answer of answers.slice(10)) {
      expect(answer).toMatchObject(refusal(429, ErrorCode.TooManySubscriptions));
    }
    expect(await server.store.usage()).toMatchObject({ subscriptions: 10 });
    // Another client is not affected.
    expect((await put(fcm(99), { 'x-client': '198.51.100.1' })).status).toBe(200);
  });

  it('refuses a new push subscription past maxPushSubscriptions with 503 and Retry-After, and still accepts a known one', async () => {
    server = createTestServer({ maxPushSubscriptions: 3 });
    const known = { endpoint: fcm(1), keys: createBrowserKeys() };
    expect((await server.call('PUT', '/push/subscriptions', known)).status).toBe(200);
    for (const n of [2, 3]) expect((await put(fcm(n))).status).toBe(200);

    const response = await server.yoga.fetch('http://yoga/graphql/push/subscriptions', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ endpoint: fcm(4), keys: createBrowserKeys() }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toMatchObject({
      errors: [{ extensions: { code: ErrorCode.OverCapacity } }],
    });
    // The same browser putting its subscription again (every page load does) is never refused.
    expect((await server.call('PUT', '/push/subscriptions', known)).status).toBe(200);
    expect((await server.store.usage()).subscriptions).toBe(3);
  });

  it('expires a push subscription nothing uses a registration TTL after its last use', async () => {
    server = createTestServer({ registrationTtlMs: 100, sweepIntervalMs: 20 });
    const { subscriptionId } = await server.subscribe();
    expect(await server.store.getSubscription(subscriptionId)).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await server.store.getSubscription(subscriptionId)).toBeNull();
    expect((await server.store.usage()).subscriptions).toBe(0);
  });

  it('deletes its own push subscription on DELETE; registrations on it go on over the stream', async () => {
    server = createTestServer();
    const { subscriptionId } = await server.subscribe();
    const { registrationId } = await server.registered(subscriptionId);
    const answer = await server.call('DELETE', '/push/subscriptions', { subscriptionId });
    expect(answer).toMatchObject({ status: 200, body: { deleted: true } });
    expect(await server.store.getSubscription(subscriptionId)).toBeNull();
    expect((await server.store.getRegistration(registrationId))?.subscriptionId).toBeNull();
    const again = await server.call('DELETE', '/push/subscriptions', { subscriptionId });
    expect(again).toMatchObject({ status: 200, body: { deleted: false } });
  });
});

describe('registrations', () => {
  it('keeps one client from holding more than maxRegistrationsPerClient (429), whatever its tabs', async () => {
    server = createTestServer({
      clientKey: (request) => request.headers.get('x-client'),
      maxRegistrationsPerClient: 4,
    });
    const register = (client: string) =>
      server.register({ tabId: newTabId(), operationKey: '1' }, undefined, undefined, {
        'x-client': client,
      });
    const answers = [];
    for (let n = 0; n < 6; n++) answers.push(await register('a'));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 429, 429]);
    expect(answers[4]).toMatchObject(refusal(429, ErrorCode.TooManyRegistrations));
    expect((await server.store.usage()).registrations).toBe(4);
    expect((await register('b')).status).toBe(200);
  });

  it('refuses a registration past maxRegistrations with 503 and Retry-After; the others keep their events', async () => {
    server = createTestServer({ maxRegistrations: 2 });
    const { subscriptionId } = await server.subscribe();
    const first = await server.registered(subscriptionId);
    await server.registered(subscriptionId);
    const returned = server.inventory.counters.returned.get('p1') ?? 0;

    const response = await server.yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-graphql-web-push': 'register',
      },
      body: JSON.stringify({
        query: 'subscription($p: ID!) { stockChanged(productId: $p) { id } }',
        variables: { p: 'p1' },
        extensions: { webPush: { subscriptionId, tabId: newTabId(), operationKey: '1' } },
      }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toMatchObject({
      errors: [{ extensions: { code: ErrorCode.OverCapacity } }],
    });
    // The refused request's execution was closed, and the kept registrations still deliver.
    await server.publish({ id: 'p1', stock: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.envelopesOf(first.registrationId).map((e) => e.seq)).toEqual([1]);
    expect(server.inventory.counters.returned.get('p1')).toBe(returned + 1);
  });

  it('enforces maxRegistrationsPerSubscription when registrations move onto a push subscription too', async () => {
    server = createTestServer({ maxRegistrationsPerSubscription: 12, maxRegistrationsPerTab: 50 });
    const { subscriptionId } = await server.subscribe();
    for (let n = 0; n < 10; n++) await server.registered(subscriptionId);
    const tabId = newTabId();
    const streamed = [];
    for (let n = 0; n < 5; n++) {
      const answer = await server.register({ tabId, operationKey: String(n) });
      streamed.push(answer.body.extensions.webPush.registrationId as string);
    }

    const moved = await server.call('POST', '/push/move', {
      tabId,
      subscriptionId,
      registrationIds: streamed,
    });

    expect(moved).toMatchObject(refusal(429, ErrorCode.TooManyRegistrations));
    expect(await server.store.listBySubscription(subscriptionId)).toHaveLength(10);
    const fits = await server.call('POST', '/push/move', {
      tabId,
      subscriptionId,
      registrationIds: streamed.slice(0, 2),
    });
    expect(fits.status).toBe(200);
    expect(await server.store.listBySubscription(subscriptionId)).toHaveLength(12);
  });
});
