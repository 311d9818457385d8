import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../protocol/index.js';
import { createMemoryStore } from './store/memory.js';
import type { Store } from './store/types.js';
import {
  type Answer,
  createBrowserKeys,
  createTestServer,
  newTabId,
  refusal,
  type TestServer,
} from './test-support.js';

const waitFor = <T>(check: () => T | Promise<T>) =>
  vi.waitFor(check, { timeout: 2_000, interval: 5 });

const LIMITS = {
  maxRegistrationsPerTab: 3,
  maxRegistrationsPerSubscription: 5,
  maxBodyBytes: 4096,
  maxDocumentBytes: 1024,
};
const SUBSCRIPTION = 'subscription($p: ID!) { stockChanged(productId: $p) { id stock note } }';
const WRITES = new Set([
  'putSubscription',
  'deleteSubscription',
  'createRegistration',
  'renew',
  'deleteRegistration',
]);

/** Wraps a store and records every call that could change what it holds. */
function recordWrites(store: Store): { store: Store; writes: string[] } {
  const writes: string[] = [];
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      // `listen` answers at once (a function to stop listening), not with a promise.
      if (typeof value !== 'function' || key === 'listen') return value;
      return async (...args: unknown[]) => {
        const result = await value.apply(target, args);
        // A refused insert changes nothing; every other write call counts.
        const refused = key === 'createRegistration' && !(result as { ok: boolean }).ok;
        if (WRITES.has(String(key)) && !refused) writes.push(String(key));
        return result;
      };
    },
  });
  return { store: proxy, writes };
}

interface Fixture {
  server: TestServer;
  writes: string[];
  subscriptionId: string;
  endpoint: string;
  registrationId: string;
  tabId: string;
}

let fx: Fixture;

beforeEach(async () => {
  const recorded = recordWrites(createMemoryStore());
  const server = createTestServer({ ...LIMITS, store: recorded.store });
  const { subscriptionId, data } = await server.subscribe();
  const { registrationId, tabId } = await server.registered(subscriptionId);
  server.publish({ id: 'p1', stock: 1 });
  await waitFor(() => expect(server.sender.sent).toHaveLength(1));
  fx = {
    server,
    writes: recorded.writes,
    subscriptionId,
    endpoint: data.endpoint,
    registrationId,
    tabId,
  };
});

afterEach(async () => {
  await fx.server.yoga.dispose();
});

/** Everything the store holds about the fixture's subscription, tab and registration. */
async function snapshot() {
  const { store } = fx.server;
  return {
    subscription: await store.getSubscription(fx.subscriptionId),
    bySubscription: await store.listBySubscription(fx.subscriptionId),
    byTab: await store.listByTab(fx.tabId),
    messages: await store.getMessages(fx.registrationId, 0, 100),
  };
}

/** The existing registration still gets its next event, with the next seq. */
async function expectStillDelivering() {
  fx.server.publish({ id: 'p1', stock: 77 });
  await waitFor(() => expect(fx.server.envelopesOf(fx.registrationId)).toHaveLength(2));
  expect(fx.server.envelopesOf(fx.registrationId)[1]).toEqual({
    v: 1,
    id: `${fx.registrationId}:2`,
    tab: fx.tabId,
    reg: fx.registrationId,
    seq: 2,
    type: 'next',
    payload: { data: { stockChanged: { id: 'p1', stock: 77, note: null } } },
  });
}

interface Case {
  name: string;
  /** Changes the store on purpose before the refused request (e.g. fill a limit). */
  prepare?: () => Promise<void>;
  send: () => Promise<Answer>;
  status: number;
  code: string;
}

const call = (...args: Parameters<TestServer['call']>) => fx.server.call(...args);
const validKeys = () => createBrowserKeys();
const put = (body: unknown, headers?: Record<string, string>) =>
  call('PUT', '/push/subscriptions', body, headers);
const webPush = (overrides: Record<string, unknown> = {}) => ({
  subscriptionId: fx.subscriptionId,
  tabId: newTabId(),
  operationKey: '1',
  ...overrides,
});
const messages = (query: string) => call('GET', `/push/messages?${query}`);
const oversizedJson = () => JSON.stringify({ endpoint: 'x'.repeat(LIMITS.maxBodyBytes) });

const cases: Case[] = [
  // Routing
  {
    name: 'an unknown route',
    send: () => call('GET', '/push/nope'),
    status: 404,
    code: ErrorCode.NotFound,
  },
  {
    name: 'the bare prefix',
    send: () => call('GET', '/push'),
    status: 404,
    code: ErrorCode.NotFound,
  },
  {
    name: 'POST …/config',
    send: () => call('POST', '/push/config', {}),
    status: 405,
    code: ErrorCode.MethodNotAllowed,
  },
  {
    name: 'GET …/subscriptions',
    send: () => call('GET', '/push/subscriptions'),
    status: 405,
    code: ErrorCode.MethodNotAllowed,
  },
  {
    name: 'GET …/renew',
    send: () => call('GET', '/push/renew'),
    status: 405,
    code: ErrorCode.MethodNotAllowed,
  },
  {
    name: 'POST …/messages',
    send: () => call('POST', '/push/messages', {}),
    status: 405,
    code: ErrorCode.MethodNotAllowed,
  },
  {
    name: 'DELETE …/unregister',
    send: () => call('DELETE', '/push/unregister'),
    status: 405,
    code: ErrorCode.MethodNotAllowed,
  },

  // PUT …/subscriptions
  {
    name: 'a subscription with malformed JSON',
    send: () => put('{"endpoint":'),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a subscription that is a JSON array',
    send: () => put([]),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a subscription whose endpoint is a number',
    send: () => put({ endpoint: 42, keys: validKeys() }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a subscription without keys',
    send: () => put({ endpoint: 'http://127.0.0.1:9999/push/x' }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a subscription with an 8-byte auth secret',
    send: () =>
      put({
        endpoint: 'http://127.0.0.1:9999/push/x',
        keys: { ...validKeys(), auth: Buffer.alloc(8, 1).toString('base64url') },
      }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a subscription whose p256dh is 65 bytes but not a curve point',
    send: () =>
      put({
        endpoint: 'http://127.0.0.1:9999/push/x',
        keys: {
          ...validKeys(),
          p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url'),
        },
      }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a subscription whose p256dh is not base64url',
    send: () =>
      put({ endpoint: 'http://127.0.0.1:9999/push/x', keys: { ...validKeys(), p256dh: '!!!' } }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a subscription sent as text/plain',
    send: () =>
      put(JSON.stringify({ endpoint: 'http://127.0.0.1:9999/push/x', keys: validKeys() }), {
        'content-type': 'text/plain',
      }),
    status: 415,
    code: ErrorCode.UnsupportedMediaType,
  },
  {
    name: 'a subscription body that is not UTF-8',
    send: async () => {
      const response = await fx.server.yoga.fetch('http://yoga/graphql/push/subscriptions', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
      });
      return { status: response.status, contentType: null, body: await response.json() };
    },
    status: 400,
    code: ErrorCode.BadRequest,
  },
  ...['http://169.254.169.254/latest', 'ftp://push.example/x', 'https://evil.example/push/1'].map(
    (endpoint): Case => ({
      name: `a subscription to ${endpoint}`,
      send: () => put({ endpoint, keys: validKeys() }),
      status: 400,
      code: ErrorCode.EndpointNotAllowed,
    }),
  ),
  {
    name: 'a subscription body over maxBodyBytes (Content-Length)',
    send: () => put(oversizedJson()),
    status: 413,
    code: ErrorCode.TooLarge,
  },

  // POST /graphql registrations
  {
    name: 'a query sent as a registration',
    send: () => fx.server.register(webPush(), 'query { product(id: "p1") { id } }', {}),
    status: 400,
    code: ErrorCode.NotASubscription,
  },
  {
    name: 'a mutation sent as a registration',
    send: async () => {
      const answer = await fx.server.register(
        webPush(),
        'mutation { setStock(productId: "p1", stock: 5) { id } }',
        {},
      );
      expect(fx.server.inventory.counters.mutations).toBe(0);
      return answer;
    },
    status: 400,
    code: ErrorCode.NotASubscription,
  },
  {
    name: 'a registration whose extension is a string',
    send: () => fx.server.register('x'),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a registration with a 15-character tab id',
    send: () => fx.server.register(webPush({ tabId: 'a'.repeat(15) })),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a registration whose subscriptionId is a number',
    send: () => fx.server.register(webPush({ subscriptionId: 12 })),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a registration without operationKey',
    send: () => fx.server.register(webPush({ operationKey: undefined })),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a registration on an unknown subscription',
    send: () => fx.server.register(webPush({ subscriptionId: 'B'.repeat(32) })),
    status: 404,
    code: ErrorCode.UnknownSubscription,
  },
  {
    name: 'a registration on a malformed subscription id',
    send: () => fx.server.register(webPush({ subscriptionId: 'abc' })),
    status: 404,
    code: ErrorCode.UnknownSubscription,
  },
  {
    name: 'a registration whose document is over maxDocumentBytes',
    send: () =>
      fx.server.register(
        webPush(),
        `subscription { stockChanged(productId: "p1") { id } } ${'#'.repeat(LIMITS.maxDocumentBytes)}`,
        {},
      ),
    status: 413,
    code: ErrorCode.TooLarge,
  },
  {
    name: 'a registration by GET',
    send: () => {
      const params = new URLSearchParams({
        query: SUBSCRIPTION,
        variables: JSON.stringify({ p: 'p1' }),
        extensions: JSON.stringify({ webPush: webPush() }),
      });
      return call('GET', `?${params}`, undefined, { accept: 'application/json' });
    },
    status: 405,
    code: ErrorCode.MethodNotAllowed,
  },
  {
    name: 'a registration of an invalid document',
    send: () => fx.server.register(webPush(), 'subscription { nope }', {}),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'a fourth registration of one tab (limit 3)',
    prepare: async () => {
      await fx.server.registered(fx.subscriptionId, fx.tabId);
      await fx.server.registered(fx.subscriptionId, fx.tabId);
    },
    send: () => fx.server.register(webPush({ tabId: fx.tabId })),
    status: 429,
    code: ErrorCode.TooManyRegistrations,
  },
  {
    name: 'a sixth registration of one push subscription (limit 5)',
    prepare: async () => {
      for (let i = 0; i < 4; i += 1) await fx.server.registered(fx.subscriptionId);
    },
    send: () => fx.server.register(webPush()),
    status: 429,
    code: ErrorCode.TooManyRegistrations,
  },

  // POST …/renew
  {
    name: 'a renewal with malformed JSON',
    send: () => call('POST', '/push/renew', '{"tabId"'),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a renewal whose registrations is an object',
    send: () => call('POST', '/push/renew', { tabId: fx.tabId, registrations: {} }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a renewal with a negative ackedSeq',
    send: () =>
      call('POST', '/push/renew', {
        tabId: fx.tabId,
        registrations: [{ registrationId: fx.registrationId, ackedSeq: -1 }],
      }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a renewal whose ackedSeq is a string',
    send: () =>
      call('POST', '/push/renew', {
        tabId: fx.tabId,
        registrations: [{ registrationId: fx.registrationId, ackedSeq: '1' }],
      }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a renewal without tabId',
    send: () =>
      call('POST', '/push/renew', {
        registrations: [{ registrationId: fx.registrationId, ackedSeq: 1 }],
      }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'a move to an unknown subscription',
    send: () =>
      call('POST', '/push/move', {
        tabId: fx.tabId,
        subscriptionId: 'C'.repeat(32),
        registrationIds: [fx.registrationId],
      }),
    status: 404,
    code: ErrorCode.UnknownSubscription,
  },
  {
    name: 'a renewal listing more registrations than a tab may hold',
    send: () =>
      call('POST', '/push/renew', {
        tabId: fx.tabId,
        registrations: Array.from({ length: 4 }, () => ({
          registrationId: fx.registrationId,
          ackedSeq: 1,
        })),
      }),
    status: 413,
    code: ErrorCode.TooLarge,
  },
  {
    name: 'a renewal body over maxBodyBytes',
    send: () => call('POST', '/push/renew', oversizedJson()),
    status: 413,
    code: ErrorCode.TooLarge,
  },

  // GET …/messages
  {
    name: 'messages without registrationId',
    send: () => messages(`tabId=${fx.tabId}`),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'messages without tabId',
    send: () => messages(`registrationId=${fx.registrationId}`),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'messages after a negative seq',
    send: () => messages(`tabId=${fx.tabId}&registrationId=${fx.registrationId}&after=-1`),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'messages after a non-number',
    send: () => messages(`tabId=${fx.tabId}&registrationId=${fx.registrationId}&after=abc`),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'messages of an unknown registration',
    send: () => messages(`tabId=${fx.tabId}&registrationId=${'D'.repeat(32)}`),
    status: 404,
    code: ErrorCode.UnknownRegistration,
  },
  {
    name: "messages of another tab's registration",
    send: () => messages(`tabId=${newTabId()}&registrationId=${fx.registrationId}`),
    status: 404,
    code: ErrorCode.UnknownRegistration,
  },

  // POST …/unregister
  {
    name: 'an unregister as text/plain (a simple request)',
    send: () =>
      call('POST', '/push/unregister', JSON.stringify({ tabId: fx.tabId, registrationIds: [] }), {
        'content-type': 'text/plain;charset=UTF-8',
      }),
    status: 415,
    code: ErrorCode.UnsupportedMediaType,
  },
  {
    name: 'an unregister with malformed JSON',
    send: () =>
      call('POST', '/push/unregister', '{"tabId":', { 'content-type': 'application/json' }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'an unregister whose registrationIds is a string',
    send: () =>
      call('POST', '/push/unregister', { tabId: fx.tabId, registrationIds: fx.registrationId }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'an unregister with a grace over 60 s',
    send: () =>
      call('POST', '/push/unregister', {
        tabId: fx.tabId,
        registrationIds: [fx.registrationId],
        graceMs: 60_001,
      }),
    status: 400,
    code: ErrorCode.BadRequest,
  },
  {
    name: 'an unregister sent as a form',
    send: () =>
      call('POST', '/push/unregister', `tabId=${fx.tabId}`, {
        'content-type': 'application/x-www-form-urlencoded',
      }),
    status: 415,
    code: ErrorCode.UnsupportedMediaType,
  },
  {
    name: 'an unregister body over maxBodyBytes',
    send: () =>
      call('POST', '/push/unregister', oversizedJson(), { 'content-type': 'application/json' }),
    status: 413,
    code: ErrorCode.TooLarge,
  },
  {
    name: 'an unregister listing more registrations than a tab may hold',
    send: () =>
      call('POST', '/push/unregister', {
        tabId: fx.tabId,
        registrationIds: Array.from({ length: 4 }, () => fx.registrationId),
      }),
    status: 413,
    code: ErrorCode.TooLarge,
  },
];

describe('refusals: exact status and code; the server keeps serving; nothing stored changes', () => {
  for (const { name, prepare, send, status, code } of cases) {
    it(`refuses ${name} with ${status} ${code}`, async () => {
      await prepare?.();
      const before = await snapshot();
      const writes = fx.writes.length;

      const answer = await send();

      expect(answer).toMatchObject(refusal(status, code));
      expect(answer.body.errors).toHaveLength(1);
      expect(fx.writes.slice(writes)).toEqual([]);
      expect(await snapshot()).toEqual(before);
      await expectStillDelivering();
    });
  }

  it('refuses a body streamed without Content-Length once it passes maxBodyBytes, unread', async () => {
    const before = await snapshot();
    let chunks = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        chunks += 1;
        if (chunks > 100) return controller.close();
        controller.enqueue(new TextEncoder().encode(' '.repeat(1000)));
      },
    });
    const response = await fx.server.yoga.fetch('http://yoga/graphql/push/subscriptions', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);

    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      errors: [
        { message: 'Body is larger than 4096 bytes', extensions: { code: ErrorCode.TooLarge } },
      ],
    });
    expect(chunks).toBeLessThan(100);
    expect(await snapshot()).toEqual(before);
    await expectStillDelivering();
  });

  it('answers 405 with an Allow header', async () => {
    const response = await fx.server.yoga.fetch('http://yoga/graphql/push/renew');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it("reports another tab's registration as gone on renew and leaves it as it was", async () => {
    const before = await snapshot();
    const answer = await call('POST', '/push/renew', {
      tabId: newTabId(),
      registrations: [{ registrationId: fx.registrationId, ackedSeq: 1 }],
    });
    expect(answer).toMatchObject({ status: 200, body: { gone: [fx.registrationId], seqs: {} } });
    expect(await snapshot()).toEqual(before);
    await expectStillDelivering();
  });

  it("ignores another tab's registration on unregister", async () => {
    const before = await snapshot();
    const answer = await call('POST', '/push/unregister', {
      tabId: newTabId(),
      registrationIds: [fx.registrationId, 'E'.repeat(32)],
    });
    expect(answer).toMatchObject({ status: 200, body: { unregistered: [] } });
    expect(await snapshot()).toEqual(before);
    await expectStillDelivering();
  });
});

describe('a failing store', () => {
  it('answers 503 on the routes and on registration, and closes the stream it set up', async () => {
    const store = createMemoryStore();
    const failing: Store = {
      ...store,
      putSubscription: async () => {
        throw new Error('connection lost');
      },
      createRegistration: async () => {
        throw new Error('connection lost');
      },
    };
    const server = createTestServer({ store: failing });
    try {
      const put = await server.call('PUT', '/push/subscriptions', {
        endpoint: 'http://127.0.0.1:9999/push/1',
        keys: createBrowserKeys(),
      });
      expect(put).toMatchObject(refusal(503, ErrorCode.Unavailable));

      const record = await store.putSubscription(
        { endpoint: 'http://127.0.0.1:9999/push/2', keys: createBrowserKeys() },
        'F'.repeat(32),
        Date.now(),
        60_000,
      );
      const registration = await server.register({
        subscriptionId: record.id,
        tabId: newTabId(),
        operationKey: '1',
      });
      expect(registration).toMatchObject(refusal(503, ErrorCode.Unavailable));
      expect(server.inventory.counters.subscribed).toBe(1);
      expect(server.inventory.counters.returned.get('p1')).toBe(1);
      expect(JSON.stringify([put.body, registration.body])).not.toContain('connection lost');
    } finally {
      await server.yoga.dispose();
    }
  });
});
