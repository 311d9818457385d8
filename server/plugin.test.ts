import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_PUSH_BUDGET_BYTES,
  type Envelope,
  REGISTRATION_HEADER,
  REGISTRATION_HEADER_VALUE,
} from '../protocol/index.js';
import { createTestYoga } from '../test/support/yoga.js';
import {
  createBrowserKeys,
  createInventory,
  createRecordingSender,
  createTestServer,
  newTabId,
  type TestServer,
} from './test-support.js';

const waitFor = <T>(check: () => T | Promise<T>) =>
  vi.waitFor(check, { timeout: 2_000, interval: 5 });

const SUBSCRIPTION = 'subscription($p: ID!) { stockChanged(productId: $p) { id stock note } }';

const next = (registrationId: string, tabId: string, seq: number, payload: unknown): Envelope => ({
  v: 1,
  id: `${registrationId}:${seq}`,
  tab: tabId,
  reg: registrationId,
  seq,
  type: 'next',
  payload,
});

const stock = (id: string, value: number, note: string | null = null) => ({
  data: { stockChanged: { id, stock: value, note } },
});

let server: TestServer | undefined;
afterEach(async () => {
  await server?.yoga.dispose();
  server = undefined;
});

/** The server of the current test; fails loudly when a test forgot to start one. */
const s = (): TestServer => {
  if (!server) throw new Error('no server');
  return server;
};

describe('useWebPush: config and subscriptions', () => {
  it('serves the config a tab needs before subscribing', async () => {
    server = createTestServer({ registrationTtlMs: 30_000, maxPayloadBytes: 2000 });
    const answer = await s().call('GET', '/push/config');
    expect(answer).toEqual({
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: {
        applicationServerKey: s().vapid.publicKey,
        registrationTtlMs: 30_000,
        renewIntervalMs: 10_000,
        maxPayloadBytes: 2000,
        streamHeartbeatMs: 15_000,
      },
    });
  });

  it('defaults maxPayloadBytes to the protocol budget', async () => {
    server = createTestServer();
    expect((await s().call('GET', '/push/config')).body.maxPayloadBytes).toBe(
      DEFAULT_PUSH_BUDGET_BYTES,
    );
  });

  it('gives the same subscription id for the same endpoint and keys', async () => {
    server = createTestServer();
    const { subscriptionId, data } = await s().subscribe();
    const again = await s().call('PUT', '/push/subscriptions', data);
    expect(again).toMatchObject({ status: 200, body: { subscriptionId } });
    expect(subscriptionId).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(await s().store.getSubscription(subscriptionId)).toMatchObject({
      endpoint: data.endpoint,
      keys: data.keys,
    });
  });

  it('accepts the well-known push services without configuration', async () => {
    server = createTestServer({ allowedPushOrigins: [] });
    const { subscriptionId } = await s().subscribe(
      'https://updates.push.services.mozilla.com/wpush/v2/abc',
    );
    expect(await s().store.getSubscription(subscriptionId)).not.toBeNull();
  });
});

describe('useWebPush: registration and delivery', () => {
  it('answers a registration with a JSON ack, even to a client that accepts only SSE', async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const before = Date.now();
    const answer = await s().register(
      { subscriptionId, tabId: newTabId(), operationKey: '7' },
      SUBSCRIPTION,
      { p: 'p1' },
      { accept: 'text/event-stream' },
    );
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('application/json; charset=utf-8');
    expect(Object.keys(answer.body)).toEqual(['extensions']);
    const ack = answer.body.extensions.webPush;
    expect(Object.keys(ack).sort()).toEqual(['expiresAt', 'registrationId', 'seq']);
    expect(ack.seq).toBe(0);
    expect(ack.registrationId).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(ack.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(ack.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('stores the registration with only the kept headers, and its group with the document and variables', async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const tabId = newTabId();
    const answer = await s().register(
      { subscriptionId, tabId, operationKey: 42 },
      SUBSCRIPTION,
      { p: 'p9' },
      { authorization: 'Bearer abc', 'x-other': 'dropped' },
    );
    const { registrationId, expiresAt } = answer.body.extensions.webPush;
    const record = await s().store.getRegistration(registrationId);
    expect(record).toEqual({
      id: registrationId,
      tabId,
      subscriptionId,
      held: false,
      background: false,
      clientKey: null,
      operationKey: '42',
      groupId: expect.any(String),
      base: 0,
      headers: { authorization: 'Bearer abc' },
      createdAt: expiresAt - 60_000,
      expiresAt,
      seq: 0,
      ackedSeq: 0,
      done: false,
    });
    expect(await s().store.getGroup(record?.groupId as string)).toMatchObject({
      query: SUBSCRIPTION,
      operationName: null,
      variables: { p: 'p9' },
      headers: { authorization: 'Bearer abc' },
      seq: 0,
      done: false,
      cursor: null,
    });
  });

  it('pushes each published event in order as envelopes seq 1, 2, 3 with the exact data', async () => {
    server = createTestServer();
    const { subscriptionId, data } = await s().subscribe();
    const { registrationId, tabId } = await s().registered(subscriptionId);

    for (const value of [5, 4, 3]) s().publish({ id: 'p1', stock: value });

    await waitFor(() => expect(s().sender.sent).toHaveLength(3));
    expect(s().sender.sent.map((m) => m.envelope)).toEqual([
      next(registrationId, tabId, 1, stock('p1', 5)),
      next(registrationId, tabId, 2, stock('p1', 4)),
      next(registrationId, tabId, 3, stock('p1', 3)),
    ]);
    const topic = s().sender.sent[0]?.options.topic;
    for (const message of s().sender.sent) {
      expect(message.target).toEqual({ endpoint: data.endpoint, keys: data.keys });
      // No longer than the registration lives (60 s), one topic per registration.
      expect(message.options.ttlSeconds).toBeGreaterThanOrEqual(58);
      expect(message.options.ttlSeconds).toBeLessThanOrEqual(60);
      expect(message.options.topic).toBe(topic);
    }
    // The topic reveals nothing of the registration id, a secret.
    expect(topic).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(topic).not.toContain(registrationId.slice(0, 8));
  });

  it('sends one push per browser for the tabs of one operation, with a topic of its own per operation', async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const a = await s().registered(subscriptionId, newTabId(), SUBSCRIPTION, { p: 'p1' });
    const b = await s().registered(subscriptionId, newTabId(), SUBSCRIPTION, { p: 'p1' });
    const other = await s().registered(subscriptionId, newTabId(), SUBSCRIPTION, { p: 'p2' });
    s().publish({ id: 'p1', stock: 1 });
    s().publish({ id: 'p2', stock: 2 });
    await waitFor(() => expect(s().sender.sent).toHaveLength(2));

    const [p1, p2] = [a, other].map((r) =>
      s().sender.sent.find((m) => m.envelopes.some((e) => e.reg === r.registrationId)),
    );
    expect(p1?.envelopes).toEqual([
      next(a.registrationId, a.tabId, 1, stock('p1', 1)),
      next(b.registrationId, b.tabId, 1, stock('p1', 1)),
    ]);
    expect(p2?.envelopes).toEqual([next(other.registrationId, other.tabId, 1, stock('p2', 2))]);
    expect(p1?.options.topic).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(p1?.options.topic).not.toBe(p2?.options.topic);
    // One execution per operation: the second registration of p1 joined the first's.
    expect(s().inventory.counters.subscribed).toBe(3);
    expect(s().inventory.counters.returned.get('p1')).toBe(1);
  });

  it('shares an execution only between registrations whose kept headers are equal, by default', async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const as = (authorization: string) =>
      s().register(
        { subscriptionId, tabId: newTabId(), operationKey: '1' },
        undefined,
        { p: 'p1' },
        { authorization },
      );
    const alice = [await as('Bearer alice'), await as('Bearer alice')];
    const bob = await as('Bearer bob');
    for (const answer of [...alice, bob]) expect(answer.status).toBe(200);
    const groupOf = async (answer: {
      body: { extensions: { webPush: { registrationId: string } } };
    }) => (await s().store.getRegistration(answer.body.extensions.webPush.registrationId))?.groupId;
    const [a1, a2, b] = await Promise.all([...alice, bob].map(groupOf));
    expect(a1).toBe(a2);
    // Another visitor's credentials never run in alice's execution.
    expect(b).not.toBe(a1);
    s().publish({ id: 'p1', stock: 1 });
    await waitFor(() =>
      expect(s().envelopesOf(bob.body.extensions.webPush.registrationId)).toHaveLength(1),
    );
    // Two executions of the event: alice's group and bob's; alice's second stream was closed.
    expect(s().inventory.counters.resolved).toBe(2);
    expect(s().inventory.counters.returned.get('p1')).toBe(1);
  });

  it('shares one execution among everyone under executionKey, and none where it returns null', async () => {
    const keys: string[] = [];
    server = createTestServer({
      executionKey: (context) => {
        const authorization = (context.request as Request).headers.get('authorization') ?? '';
        keys.push(authorization);
        return authorization === 'Bearer admin' ? null : 'public';
      },
    });
    const { subscriptionId } = await s().subscribe();
    const as = async (authorization: string) => {
      const answer = await s().register(
        { subscriptionId, tabId: newTabId(), operationKey: '1' },
        undefined,
        { p: 'p1' },
        { authorization },
      );
      expect(answer.status).toBe(200);
      const id = answer.body.extensions.webPush.registrationId as string;
      return { id, groupId: (await s().store.getRegistration(id))?.groupId };
    };
    const [alice, bob, admin, admin2] = [
      await as('Bearer alice'),
      await as('Bearer bob'),
      await as('Bearer admin'),
      await as('Bearer admin'),
    ];
    expect(keys).toEqual(['Bearer alice', 'Bearer bob', 'Bearer admin', 'Bearer admin']);
    expect(bob.groupId).toBe(alice.groupId);
    expect(admin.groupId).not.toBe(alice.groupId);
    expect(admin2.groupId).not.toBe(admin.groupId);
    s().publish({ id: 'p1', stock: 1 });
    await waitFor(() => {
      for (const { id } of [alice, bob, admin, admin2]) expect(s().envelopesOf(id)).toHaveLength(1);
    });
    // One execution for alice and bob (bob's own stream was closed), one per opted-out one.
    expect(s().inventory.counters.resolved).toBe(3);
    expect(s().inventory.counters.returned.get('p1')).toBe(1);
  });

  it('stores one push subscription for two spellings of one endpoint, and two for two paths', async () => {
    server = createTestServer();
    const keys = createBrowserKeys();
    const put = async (endpoint: string) => {
      const answer = await s().call('PUT', '/push/subscriptions', { endpoint, keys });
      expect(answer.status).toBe(200);
      return answer.body.subscriptionId as string;
    };
    const upper = await put('https://FCM.GOOGLEAPIS.COM:443/fcm/send/Abc');
    const lower = await put('https://fcm.googleapis.com/fcm/send/Abc');
    // Paths are case-sensitive: another endpoint.
    const other = await put('https://fcm.googleapis.com/fcm/send/abc');
    expect(lower).toBe(upper);
    expect(other).not.toBe(upper);
    expect((await s().store.getSubscription(upper))?.endpoint).toBe(
      'https://fcm.googleapis.com/fcm/send/Abc',
    );
    expect((await s().store.usage()).subscriptions).toBe(2);
  });

  it('logs ids only by a short prefix: they are secrets', async () => {
    const lines: string[] = [];
    const record = (...args: unknown[]) => lines.push(args.map(String).join(' '));
    server = createTestServer({
      logger: { debug: record, info: record, warn: record, error: record },
    });
    const { subscriptionId } = await s().subscribe();
    const reg = await s().registered(subscriptionId);
    s().sender.answer(() => ({ ok: false, reason: 'failed', status: 503, attempts: 3 }));
    s().publish({ id: 'p1', stock: 1 });
    await waitFor(() => expect(lines.some((line) => line.includes('not delivered'))).toBe(true));
    const group = (await s().store.getRegistration(reg.registrationId))?.groupId as string;
    for (const secret of [reg.registrationId, reg.tabId, subscriptionId, group]) {
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
    // The prefix is there, so a log line can still be matched to its registration's group.
    expect(lines.some((line) => line.includes(group.slice(0, 8)))).toBe(true);
  });

  it('gives two registrations their own streams and sequences', async () => {
    server = createTestServer();
    const first = await s().subscribe();
    const second = await s().subscribe();
    const a = await s().registered(first.subscriptionId, newTabId(), SUBSCRIPTION, { p: 'p1' });
    const b = await s().registered(second.subscriptionId, newTabId(), SUBSCRIPTION, { p: 'p2' });
    const c = await s().registered(first.subscriptionId, newTabId(), SUBSCRIPTION, { p: 'p2' });

    s().publish({ id: 'p2', stock: 1 });
    s().publish({ id: 'p1', stock: 2 });
    s().publish({ id: 'p2', stock: 3 });

    await waitFor(() => expect(s().sender.sent).toHaveLength(5));
    expect(s().envelopesOf(a.registrationId)).toEqual([
      next(a.registrationId, a.tabId, 1, stock('p1', 2)),
    ]);
    expect(s().envelopesOf(b.registrationId)).toEqual([
      next(b.registrationId, b.tabId, 1, stock('p2', 1)),
      next(b.registrationId, b.tabId, 2, stock('p2', 3)),
    ]);
    expect(s().envelopesOf(c.registrationId)).toEqual([
      next(c.registrationId, c.tabId, 1, stock('p2', 1)),
      next(c.registrationId, c.tabId, 2, stock('p2', 3)),
    ]);
    const endpointOf = (reg: string) =>
      s().sender.sent.find((m) => m.envelope.reg === reg)?.target.endpoint;
    expect(endpointOf(b.registrationId)).toBe(second.data.endpoint);
    expect(endpointOf(c.registrationId)).toBe(first.data.endpoint);
  });

  it('sends a result bigger than maxPayloadBytes as a ref and serves it whole from /messages', async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const { registrationId, tabId } = await s().registered(subscriptionId);
    const note = 'x'.repeat(5000);

    s().publish({ id: 'p1', stock: 1, note });
    s().publish({ id: 'p1', stock: 2 });

    await waitFor(() => expect(s().sender.sent).toHaveLength(2));
    expect(s().envelopesOf(registrationId)).toEqual([
      { v: 1, id: `${registrationId}:1`, tab: tabId, reg: registrationId, seq: 1, type: 'ref' },
      next(registrationId, tabId, 2, stock('p1', 2)),
    ]);
    expect(s().sender.sent[0]?.bytes).toBeLessThanOrEqual(DEFAULT_PUSH_BUDGET_BYTES);

    const answer = await s().call(
      'GET',
      `/push/messages?tabId=${tabId}&registrationId=${registrationId}&after=0`,
    );
    expect(answer).toEqual({
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: {
        envelopes: [
          next(registrationId, tabId, 1, stock('p1', 1, note)),
          next(registrationId, tabId, 2, stock('p1', 2)),
        ],
        lastSeq: 2,
      },
    });
    const after = await s().call(
      'GET',
      `/push/messages?tabId=${tabId}&registrationId=${registrationId}&after=1`,
    );
    expect(after.body.envelopes.map((e: Envelope) => e.seq)).toEqual([2]);
  });

  it('resends as a ref when the push service answers too-large', async () => {
    server = createTestServer();
    s().sender.answer(({ envelope }) =>
      envelope.type === 'next'
        ? { ok: false, reason: 'too-large', status: 413, attempts: 1 }
        : { ok: true, status: 201, attempts: 1 },
    );
    const { subscriptionId } = await s().subscribe();
    const { registrationId, tabId } = await s().registered(subscriptionId);

    s().publish({ id: 'p1', stock: 1 });

    await waitFor(() => expect(s().sender.sent).toHaveLength(2));
    expect(s().envelopesOf(registrationId)).toEqual([
      next(registrationId, tabId, 1, stock('p1', 1)),
      { v: 1, id: `${registrationId}:1`, tab: tabId, reg: registrationId, seq: 1, type: 'ref' },
    ]);
  });

  it('keeps a message whose push failed in the log and goes on with the next one', async () => {
    server = createTestServer();
    s().sender.answer(({ envelope }) =>
      envelope.seq === 1
        ? { ok: false, reason: 'failed', status: 500, attempts: 5 }
        : { ok: true, status: 201, attempts: 1 },
    );
    const { subscriptionId } = await s().subscribe();
    const { registrationId, tabId } = await s().registered(subscriptionId);

    s().publish({ id: 'p1', stock: 1 });
    s().publish({ id: 'p1', stock: 2 });

    await waitFor(() => expect(s().sender.sent).toHaveLength(2));
    const answer = await s().call(
      'GET',
      `/push/messages?tabId=${tabId}&registrationId=${registrationId}`,
    );
    expect(answer.body.envelopes).toEqual([
      next(registrationId, tabId, 1, stock('p1', 1)),
      next(registrationId, tabId, 2, stock('p1', 2)),
    ]);
  });

  it('deletes a gone push subscription; its registrations go on, logged for the stream', async () => {
    server = createTestServer();
    s().sender.answer(() => ({ ok: false, reason: 'gone', status: 410, attempts: 1 }));
    const { subscriptionId } = await s().subscribe();
    const a = await s().registered(subscriptionId, newTabId(), SUBSCRIPTION, { p: 'p1' });
    const b = await s().registered(subscriptionId, newTabId(), SUBSCRIPTION, { p: 'p2' });

    s().publish({ id: 'p1', stock: 1 });

    await waitFor(async () => expect(await s().store.getSubscription(subscriptionId)).toBeNull());
    for (const { registrationId } of [a, b]) {
      expect(await s().store.getRegistration(registrationId)).toMatchObject({
        subscriptionId: null,
        done: false,
      });
    }
    expect(s().inventory.counters.returned.get('p1')).toBeUndefined();
    // Later events are logged, not pushed: the tab reads them from its stream.
    s().sender.sent.length = 0;
    s().publish({ id: 'p1', stock: 2 });
    await waitFor(async () =>
      expect((await s().store.getRegistration(a.registrationId))?.seq).toBe(2),
    );
    expect(s().sender.sent).toEqual([]);
    const renewed = await s().call('POST', '/push/renew', {
      tabId: a.tabId,
      registrations: [{ registrationId: a.registrationId, ackedSeq: 0 }],
    });
    expect(renewed.body.streamed).toEqual([a.registrationId]);
  });

  it('ends with a complete envelope when the source stream ends', async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const { registrationId, tabId } = await s().registered(
      subscriptionId,
      newTabId(),
      'subscription { countdown(from: 2) }',
      {},
    );

    await waitFor(() => expect(s().sender.sent).toHaveLength(3));
    expect(s().envelopesOf(registrationId)).toEqual([
      next(registrationId, tabId, 1, { data: { countdown: 2 } }),
      next(registrationId, tabId, 2, { data: { countdown: 1 } }),
      {
        v: 1,
        id: `${registrationId}:3`,
        tab: tabId,
        reg: registrationId,
        seq: 3,
        type: 'complete',
      },
    ]);
    expect((await s().store.getRegistration(registrationId))?.done).toBe(true);
  });

  it('ends with an error envelope, masked as Yoga masks it, when the source stream throws', async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const { registrationId, tabId } = await s().registered(
      subscriptionId,
      newTabId(),
      'subscription { broken }',
      {},
    );

    await waitFor(() => expect(s().sender.sent).toHaveLength(2));
    expect(s().envelopesOf(registrationId)).toEqual([
      next(registrationId, tabId, 1, { data: { broken: 1 } }),
      {
        v: 1,
        id: `${registrationId}:2`,
        tab: tabId,
        reg: registrationId,
        seq: 2,
        type: 'error',
        payload: {
          errors: [
            {
              message: 'Unexpected error.',
              locations: [{ line: 1, column: 1 }],
              extensions: { code: 'INTERNAL_SERVER_ERROR' },
            },
          ],
        },
      },
    ]);
    expect(JSON.stringify(s().sender.sent)).not.toContain('hunter2');
  });

  it("runs the registration through the request's context: a refused subscribe registers nothing", async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const tabId = newTabId();
    const webPush = { subscriptionId, tabId, operationKey: '1' };

    const refused = await s().register(webPush, 'subscription { secret }', {});
    expect(refused).toMatchObject({
      status: 401,
      body: { errors: [{ message: 'Not signed in', extensions: { code: 'UNAUTHENTICATED' } }] },
    });
    expect(await s().store.listByTab(tabId)).toEqual([]);

    const accepted = await s().register(
      webPush,
      'subscription { secret }',
      {},
      { authorization: 'Bearer good' },
    );
    expect(accepted.status).toBe(200);
    const { registrationId } = accepted.body.extensions.webPush;
    await waitFor(() => expect(s().sender.sent).toHaveLength(2));
    expect(
      s()
        .envelopesOf(registrationId)
        .map((e) => [e.type, e.payload]),
    ).toEqual([
      ['next', { data: { secret: 7 } }],
      ['complete', undefined],
    ]);
  });
});

describe('useWebPush: lifetime of registrations', () => {
  it('closes the stream and removes the registration when it expires', async () => {
    server = createTestServer({ registrationTtlMs: 150, sweepIntervalMs: 10 });
    const { subscriptionId } = await s().subscribe();
    const { registrationId } = await s().registered(subscriptionId);

    await waitFor(() => expect(s().inventory.counters.returned.get('p1')).toBe(1));
    expect(await s().store.getRegistration(registrationId)).toBeNull();
  });

  it('renew extends the expiry, trims acknowledged messages and reports gone ids and seqs', async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const { registrationId, tabId } = await s().registered(subscriptionId);
    for (const value of [1, 2, 3]) s().publish({ id: 'p1', stock: value });
    await waitFor(() => expect(s().sender.sent).toHaveLength(3));
    const unknown = 'A'.repeat(32);
    const before = Date.now();

    const answer = await s().call('POST', '/push/renew', {
      tabId,
      registrations: [
        { registrationId, ackedSeq: 2 },
        { registrationId: unknown, ackedSeq: 0 },
      ],
    });

    expect(answer.status).toBe(200);
    expect(answer.body.gone).toEqual([unknown]);
    expect(answer.body.seqs).toEqual({ [registrationId]: 3 });
    expect(answer.body.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(await s().store.getRegistration(registrationId)).toMatchObject({
      expiresAt: answer.body.expiresAt,
      ackedSeq: 2,
    });
    const messages = await s().call(
      'GET',
      `/push/messages?tabId=${tabId}&registrationId=${registrationId}`,
    );
    expect(messages.body.envelopes.map((e: Envelope) => e.seq)).toEqual([3]);
    expect(messages.body.lastSeq).toBe(3);
  });

  it('move puts the tab’s registrations on a new push subscription', async () => {
    server = createTestServer();
    const old = await s().subscribe();
    const replacement = await s().subscribe();
    const { registrationId, tabId } = await s().registered(old.subscriptionId);

    const answer = await s().call('POST', '/push/move', {
      tabId,
      subscriptionId: replacement.subscriptionId,
      registrationIds: [registrationId],
    });
    expect(answer).toMatchObject({ status: 200, body: { moved: [registrationId], gone: [] } });
    s().publish({ id: 'p1', stock: 9 });

    await waitFor(() => expect(s().sender.sent).toHaveLength(1));
    expect(s().sender.sent[0]?.target.endpoint).toBe(replacement.data.endpoint);
  });

  it('holds the pushes of a hidden tab’s data-only registration, and keeps pushing a background one', async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const tabId = newTabId();
    const data = await s().registered(subscriptionId, tabId);
    const background = await s().register(
      { subscriptionId, tabId, operationKey: '2', background: true },
      SUBSCRIPTION,
      { p: 'p1' },
    );
    const backgroundId = background.body.extensions.webPush.registrationId as string;
    const registrations = [data.registrationId, backgroundId].map((registrationId) => ({
      registrationId,
      ackedSeq: 0,
    }));
    await s().call('POST', '/push/renew', { tabId, registrations, hidden: true });

    s().publish({ id: 'p1', stock: 4 });

    await waitFor(() => expect(s().sender.sent).toHaveLength(1));
    expect(s().sender.sent[0]?.envelope.reg).toBe(backgroundId);
    // Logged all the same: the tab fetches it when it shows again.
    expect((await s().store.getMessages(data.registrationId, 0, 10)).map((e) => e.seq)).toEqual([
      1,
    ]);
    await s().call('POST', '/push/renew', { tabId, registrations, hidden: false });
    s().publish({ id: 'p1', stock: 5 });
    // One push for both again: one browser, one operation.
    await waitFor(() => expect(s().sender.sent).toHaveLength(2));
    expect(
      s()
        .envelopesOf(data.registrationId)
        .map((e) => e.seq),
    ).toEqual([2]);
  });

  it('unregister removes the tab’s registrations at once and closes their streams', async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const { registrationId, tabId } = await s().registered(subscriptionId);

    const answer = await s().call(
      'POST',
      '/push/unregister',
      JSON.stringify({ tabId, registrationIds: [registrationId] }),
      { 'content-type': 'application/json;charset=UTF-8' },
    );

    expect(answer).toMatchObject({ status: 200, body: { unregistered: [registrationId] } });
    expect(s().inventory.counters.returned.get('p1')).toBe(1);
    expect(await s().store.getRegistration(registrationId)).toBeNull();
  });

  it('unregister with graceMs keeps registrations a reloading tab renews in time', async () => {
    server = createTestServer({ sweepIntervalMs: 10 });
    const { subscriptionId } = await s().subscribe();
    const kept = await s().registered(subscriptionId);
    const dropped = await s().registered(subscriptionId, kept.tabId);
    const before = Date.now();

    const answer = await s().call('POST', '/push/unregister', {
      tabId: kept.tabId,
      registrationIds: [kept.registrationId, dropped.registrationId],
      graceMs: 300,
    });
    expect(answer.body.unregistered).toEqual([kept.registrationId, dropped.registrationId]);
    const shortened = await s().store.getRegistration(kept.registrationId);
    expect(shortened?.expiresAt).toBeGreaterThanOrEqual(before + 300);
    expect(shortened?.expiresAt).toBeLessThanOrEqual(Date.now() + 300);

    const renewed = await s().call('POST', '/push/renew', {
      tabId: kept.tabId,
      registrations: [{ registrationId: kept.registrationId, ackedSeq: 0 }],
    });
    expect(renewed.body.gone).toEqual([]);

    await waitFor(async () =>
      expect(await s().store.getRegistration(dropped.registrationId)).toBeNull(),
    );
    s().publish({ id: 'p1', stock: 4 });
    await waitFor(() => expect(s().sender.sent).toHaveLength(1));
    expect(s().sender.sent[0]?.envelope.reg).toBe(kept.registrationId);
  });

  it('closes every stream when Yoga is disposed, keeps the registrations and the injected sender', async () => {
    server = createTestServer();
    const { subscriptionId } = await s().subscribe();
    const { registrationId } = await s().registered(subscriptionId);

    await s().yoga.dispose();

    expect(s().inventory.counters.returned.get('p1')).toBe(1);
    expect(await s().store.getRegistration(registrationId)).not.toBeNull();
    expect(s().sender.closed).toBe(false);
  });
});

describe('useWebPush on a real HTTP server', () => {
  it('keeps delivering after the registering connection closed', async () => {
    const sender = createRecordingSender();
    const inventory = createInventory();
    const { yoga } = createTestYoga({ schema: inventory.schema, sender });
    const http = createServer(yoga);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = http.address() as AddressInfo;
      const base = `http://127.0.0.1:${port}/graphql`;
      const put = await fetch(`${base}/push/subscriptions`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({
          endpoint: 'http://127.0.0.1:9999/push/1',
          keys: createBrowserKeys(),
        }),
      });
      const { subscriptionId } = (await put.json()) as { subscriptionId: string };
      const registration = await fetch(base, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          connection: 'close',
          [REGISTRATION_HEADER]: REGISTRATION_HEADER_VALUE,
        },
        body: JSON.stringify({
          query: SUBSCRIPTION,
          variables: { p: 'p1' },
          extensions: { webPush: { subscriptionId, tabId: newTabId(), operationKey: '1' } },
        }),
      });
      expect(registration.status).toBe(200);
      await registration.json();
      http.closeAllConnections();

      const mutation = await fetch(base, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ query: 'mutation { setStock(productId: "p1", stock: 3) { id } }' }),
      });
      expect(mutation.status).toBe(200);
      await mutation.json();

      await waitFor(() => expect(sender.sent).toHaveLength(1));
      expect(sender.sent[0]?.envelope.payload).toEqual(stock('p1', 3));
    } finally {
      await yoga.dispose();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
