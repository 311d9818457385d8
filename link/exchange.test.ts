import {
  Client,
  createRequest,
  type Exchange,
  type ExchangeIO,
  makeOperation,
  type Operation,
  type OperationResult,
} from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { empty, makeSubject, mergeMap, onEnd, onPush, pipe, subscribe } from 'wonka';
import type {
  Envelope,
  EnvelopeType,
  PushSubscriptionData,
  PushTransport,
} from '../protocol/index.js';
import { LinkErrorCode } from './errors.js';
import { type WebPushExchangeHandle, webPushExchangeWithHandle } from './exchange.js';
import type { WebPushExchangeOptions } from './options.js';
import type { LinkStorage } from './storage.js';

const URL_ = 'https://api.example/graphql';
const VAPID_KEY = 'BKey';
const COUNTER = /* GraphQL */ `
  subscription Counter($id: ID!) {
    counter(id: $id) {
      id
      value
    }
  }
`;

// --- an in-memory server speaking the protocol ------------------------------------------------

interface ServerRegistration {
  id: string;
  tabId: string;
  subscriptionId: string;
  operationKey: string;
  query: string;
  variables: unknown;
  headers: Headers;
  seq: number;
  log: Envelope[];
  alive: boolean;
}

interface RecordedRequest {
  method: string;
  path: string;
  search: URLSearchParams;
  headers: Headers;
  body: Record<string, unknown> | undefined;
  init: RequestInit;
}

const reply = (status: number, body?: unknown) =>
  ({
    ok: status >= 200 && status < 300,
    status,
    text: async () => (body === undefined ? '' : JSON.stringify(body)),
  }) as Response;

function createFakeServer() {
  const registrations = new Map<string, ServerRegistration>();
  const subscriptions = new Map<string, string>();
  const requests: RecordedRequest[] = [];
  let ids = 0;
  let configFailures = 0;
  let messagesFailures = 0;
  const gates = new Map<string, Promise<void>>();

  const handle = async (input: string, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input);
    const method = init.method ?? 'GET';
    const body = init.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : undefined;
    const headers = new Headers(init.headers);
    requests.push({ method, path: url.pathname, search: url.searchParams, headers, body, init });
    switch (`${method} ${url.pathname}`) {
      case 'GET /graphql/push/config':
        if (configFailures > 0) {
          configFailures--;
          return reply(503, { errors: [{ message: 'down', extensions: { code: 'X' } }] });
        }
        return reply(200, {
          applicationServerKey: VAPID_KEY,
          registrationTtlMs: 60_000,
          renewIntervalMs: 20_000,
          maxPayloadBytes: 3072,
        });
      case 'PUT /graphql/push/subscriptions': {
        const endpoint = String(body?.endpoint);
        if (!subscriptions.has(endpoint)) subscriptions.set(endpoint, `sub-${++ids}`);
        return reply(200, { subscriptionId: subscriptions.get(endpoint) });
      }
      case 'POST /graphql': {
        const ext = (body?.extensions as { webPush?: Record<string, string> } | undefined)?.webPush;
        if (String(body?.query).includes('forbidden')) {
          return reply(403, {
            errors: [{ message: 'not allowed', extensions: { code: 'FORBIDDEN' } }],
          });
        }
        const registration: ServerRegistration = {
          id: `reg-${++ids}`,
          tabId: String(ext?.tabId),
          subscriptionId: String(ext?.subscriptionId),
          operationKey: String(ext?.operationKey),
          query: String(body?.query),
          variables: body?.variables,
          headers,
          seq: 0,
          log: [],
          alive: true,
        };
        registrations.set(registration.id, registration);
        await gates.get('register');
        return reply(200, {
          extensions: {
            webPush: { registrationId: registration.id, expiresAt: Date.now() + 60_000, seq: 0 },
          },
        });
      }
      case 'POST /graphql/push/renew': {
        await gates.get('renew');
        const gone: string[] = [];
        const seqs: Record<string, number> = {};
        for (const { registrationId } of (body?.registrations ?? []) as {
          registrationId: string;
        }[]) {
          const registration = registrations.get(registrationId);
          if (!registration?.alive || registration.tabId !== body?.tabId) {
            gone.push(registrationId);
            continue;
          }
          if (typeof body?.subscriptionId === 'string') {
            registration.subscriptionId = body.subscriptionId;
          }
          seqs[registrationId] = registration.seq;
        }
        return reply(200, { expiresAt: Date.now() + 60_000, gone, seqs });
      }
      case 'GET /graphql/push/messages': {
        if (messagesFailures > 0) {
          messagesFailures--;
          return reply(503);
        }
        const registration = registrations.get(String(url.searchParams.get('registrationId')));
        if (!registration) return reply(404);
        const after = Number(url.searchParams.get('after'));
        return reply(200, {
          envelopes: registration.log.filter((e) => e.seq > after),
          lastSeq: registration.seq,
        });
      }
      case 'POST /graphql/push/unregister':
        for (const id of (body?.registrationIds ?? []) as string[]) {
          const registration = registrations.get(id);
          if (registration && body?.graceMs === undefined) registration.alive = false;
        }
        return reply(200, {});
      default:
        return reply(404);
    }
  };

  return {
    fetch: vi.fn((input: string | URL | Request, init?: RequestInit) =>
      handle(String(input), init),
    ),
    requests,
    registrations,
    /** Requests to one route, e.g. `POST /graphql/push/unregister`. */
    to(route: string) {
      return requests.filter((r) => `${r.method} ${r.path}` === route);
    },
    /** The only live registration. */
    only(): ServerRegistration {
      const live = [...registrations.values()].filter((r) => r.alive);
      expect(live).toHaveLength(1);
      return live[0] as ServerRegistration;
    },
    /** Appends the next message of a registration to its log and returns its envelope. */
    publish(registration: ServerRegistration, type: EnvelopeType, payload?: unknown): Envelope {
      const seq = ++registration.seq;
      const envelope: Envelope = {
        v: 1,
        id: `${registration.id}:${seq}`,
        tab: registration.tabId,
        reg: registration.id,
        seq,
        type,
        ...(payload === undefined ? {} : { payload }),
      };
      registration.log.push(envelope);
      return envelope;
    },
    failConfig(times: number) {
      configFailures = times;
    },
    failMessages(times: number) {
      messagesFailures = times;
    },
    /** Makes the server answer a route only once the returned function is called. */
    hold(route: 'register' | 'renew') {
      let release = () => {};
      gates.set(
        route,
        new Promise((resolve) => {
          release = () => {
            gates.delete(route);
            resolve();
          };
        }),
      );
      return () => release();
    },
  };
}

type FakeServer = ReturnType<typeof createFakeServer>;

// --- a push transport we drive by hand --------------------------------------------------------

function createFakeTransport() {
  const listeners = new Set<(data: unknown) => void>();
  const changeListeners = new Set<() => void>();
  let subscription: PushSubscriptionData = {
    endpoint: 'https://push.example/ep/1',
    keys: { p256dh: 'p256dh', auth: 'auth' },
  };
  const transport = {
    subscribe: vi.fn(async (_key: string) => subscription),
    onMessage(listener: (data: unknown) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onSubscriptionChange(listener: () => void) {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },
  } satisfies PushTransport;
  return {
    transport,
    listeners,
    /** Delivers one push message's data, as a service worker would. */
    push(data: unknown) {
      for (const listener of listeners) listener(data);
    },
    changeSubscription(endpoint: string) {
      subscription = { endpoint, keys: { p256dh: 'p256dh-2', auth: 'auth-2' } };
      for (const listener of changeListeners) listener();
    },
  };
}

const memoryStorage = (): LinkStorage & { map: Map<string, string> } => {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => {
      map.set(key, value);
    },
    removeItem: (key) => {
      map.delete(key);
    },
  };
};

// --- tabs --------------------------------------------------------------------------------------

interface Watch {
  results: OperationResult[];
  ended: boolean;
  values(): number[];
  unsubscribe(): void;
}

const cleanups: (() => void)[] = [];

function openTab(
  server: FakeServer,
  options: Partial<WebPushExchangeOptions> = {},
  before: Exchange[] = [],
): {
  handle: WebPushExchangeHandle;
  client: Client;
  fake: ReturnType<typeof createFakeTransport>;
  watch(id?: string, query?: string): Watch;
} {
  const fake = createFakeTransport();
  const handle = webPushExchangeWithHandle({
    url: URL_,
    transport: fake.transport,
    storage: null,
    fetch: server.fetch as typeof fetch,
    renewIntervalMs: 3_600_000,
    ...options,
  });
  cleanups.push(handle.dispose);
  const client = new Client({ url: URL_, exchanges: [...before, handle.exchange] });
  return {
    handle,
    client,
    fake,
    watch(id = '1', query = COUNTER) {
      const watch: Watch = {
        results: [],
        ended: false,
        values: () =>
          watch.results.map((r) => (r.data as { counter: { value: number } }).counter.value),
        unsubscribe: () => {},
      };
      const { unsubscribe } = pipe(
        client.subscription(query, { id }),
        onEnd(() => {
          watch.ended = true;
        }),
        subscribe((result) => {
          watch.results.push(result);
        }),
      );
      watch.unsubscribe = unsubscribe;
      cleanups.push(unsubscribe);
      return watch;
    },
  };
}

const counter = (value: number) => ({ data: { counter: { id: '1', value } } });

/** Lets every pending promise chain run without moving the fake clock. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(0);
};

/** Opens a tab, watches one subscription and waits until it is registered. */
async function registeredTab(server: FakeServer, options: Partial<WebPushExchangeOptions> = {}) {
  const tab = openTab(server, options);
  const watch = tab.watch();
  await settle();
  return { ...tab, watch, registration: server.only() };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

// --- tests -------------------------------------------------------------------------------------

describe('registering', () => {
  it('sets up the push subscription once, then registers each subscription operation', async () => {
    const server = createFakeServer();
    const tab = openTab(server, { tabId: 'tab-a' });
    tab.watch('1');
    tab.watch('2');
    await settle();

    expect(server.to('GET /graphql/push/config')).toHaveLength(1);
    expect(tab.fake.transport.subscribe).toHaveBeenCalledTimes(1);
    expect(tab.fake.transport.subscribe).toHaveBeenCalledWith(VAPID_KEY);
    expect(server.to('PUT /graphql/push/subscriptions')).toHaveLength(1);
    const posts = server.to('POST /graphql');
    expect(posts).toHaveLength(2);
    expect(posts[0]?.headers.get('accept')).toBe(
      'application/graphql-response+json, application/json',
    );
    expect(posts.map((p) => p.body?.variables)).toEqual([{ id: '1' }, { id: '2' }]);
    expect(posts[0]?.body?.operationName).toBe('Counter');
    const webPush = (posts[0]?.body?.extensions as { webPush?: unknown } | undefined)?.webPush;
    expect(webPush).toEqual({
      subscriptionId: 'sub-1',
      tabId: 'tab-a',
      operationKey: String(createRequest(COUNTER, { id: '1' }).key),
    });
    expect(tab.handle.inspect().registrations).toHaveLength(2);
  });

  it('sends the fetchOptions headers (authorization) with the registration and renewals', async () => {
    const server = createFakeServer();
    const { handle } = await registeredTab(server, {
      fetchOptions: () => ({ headers: { authorization: 'Bearer t0k3n' } }),
    });
    await handle.renew();
    expect(server.to('POST /graphql')[0]?.headers.get('authorization')).toBe('Bearer t0k3n');
    expect(server.to('POST /graphql/push/renew')[0]?.headers.get('authorization')).toBe(
      'Bearer t0k3n',
    );
  });

  it('turns GraphQL errors of the registration into an error result and ends the stream', async () => {
    const server = createFakeServer();
    const tab = openTab(server);
    const watch = tab.watch('1', 'subscription { forbidden }');
    await settle();
    expect(watch.results).toHaveLength(1);
    expect(watch.results[0]?.error?.graphQLErrors.map((e) => e.message)).toEqual(['not allowed']);
    expect(watch.results[0]?.error?.graphQLErrors[0]?.extensions.code).toBe('FORBIDDEN');
    expect(watch.ended).toBe(true);
    expect(tab.handle.inspect().operations).toBe(0);
  });

  it('reports a failed setup as a network error and retries it for the next operation', async () => {
    const server = createFakeServer();
    server.failConfig(1);
    const tab = openTab(server);
    const first = tab.watch('1');
    await settle();
    expect(first.results).toHaveLength(1);
    const error = first.results[0]?.error?.networkError as Error & { code: string; status: number };
    expect(error.code).toBe(LinkErrorCode.Http);
    expect(error.status).toBe(503);
    expect(first.ended).toBe(true);

    const second = tab.watch('2');
    await settle();
    expect(server.to('GET /graphql/push/config')).toHaveLength(2);
    expect(server.to('POST /graphql')).toHaveLength(1);
    expect(second.ended).toBe(false);
  });

  it('reports a transport that cannot subscribe with WEB_PUSH_LINK_SUBSCRIBE_FAILED', async () => {
    const server = createFakeServer();
    const tab = openTab(server);
    tab.fake.transport.subscribe.mockRejectedValueOnce(new Error('NotAllowedError'));
    const watch = tab.watch();
    await settle();
    expect((watch.results[0]?.error?.networkError as { code?: string } | undefined)?.code).toBe(
      LinkErrorCode.SubscribeFailed,
    );
    expect(server.to('POST /graphql')).toHaveLength(0);
  });

  it('forwards queries and teardowns, and handles only subscriptions', () => {
    const server = createFakeServer();
    const fake = createFakeTransport();
    const { exchange } = webPushExchangeWithHandle({
      url: URL_,
      transport: fake.transport,
      storage: null,
      fetch: server.fetch as typeof fetch,
    });
    const client = new Client({ url: URL_, exchanges: [] });
    const query = makeOperation('query', createRequest('query { a }', {}), {
      url: URL_,
      requestPolicy: 'cache-first',
    });
    const forwarded: Operation[] = [];
    const forward: ExchangeIO = (ops$) =>
      pipe(
        ops$,
        onPush((op) => {
          forwarded.push(op);
        }),
        mergeMap(() => empty),
      );
    const ops = makeSubject<Operation>();
    const results: OperationResult[] = [];
    pipe(
      exchange({ forward, client, dispatchDebug: () => {} })(ops.source),
      subscribe((result) => {
        results.push(result);
      }),
    );
    ops.next(query);
    ops.next(makeOperation('teardown', query));
    expect(results).toEqual([]);
    expect(forwarded.map((op) => op.kind)).toEqual(['query', 'teardown']);
    expect(server.requests).toHaveLength(0);
  });
});

describe('delivery', () => {
  it('emits envelopes that arrive in order, one result each', async () => {
    const server = createFakeServer();
    const { fake, watch, registration } = await registeredTab(server);
    for (let value = 1; value <= 3; value++) {
      fake.push(server.publish(registration, 'next', counter(value)));
    }
    expect(watch.values()).toEqual([1, 2, 3]);
    expect(watch.results.every((r) => r.error === undefined && r.hasNext)).toBe(true);
    expect(server.to('GET /graphql/push/messages')).toHaveLength(0);
  });

  it('accepts envelopes as JSON text and as UTF-8 bytes', async () => {
    const server = createFakeServer();
    const { fake, watch, registration } = await registeredTab(server);
    fake.push(JSON.stringify(server.publish(registration, 'next', counter(1))));
    fake.push(
      new TextEncoder().encode(JSON.stringify(server.publish(registration, 'next', counter(2)))),
    );
    fake.push('not json');
    fake.push({ hello: 'another app' });
    expect(watch.values()).toEqual([1, 2]);
  });

  it("runs graphcache's updates.Subscription exactly once per event, in order", async () => {
    const server = createFakeServer();
    const updates: number[] = [];
    const cache = cacheExchange({
      updates: {
        Subscription: {
          counter: (result) => {
            updates.push((result.counter as { value: number }).value);
          },
        },
      },
    });
    const tab = openTab(server, {}, [cache]);
    const watch = tab.watch();
    await settle();
    const registration = server.only();
    const event = (value: number) =>
      server.publish(registration, 'next', {
        data: { counter: { __typename: 'Counter', id: '1', value } },
      });
    const [one, two, three] = [event(1), event(2), event(3)];
    for (const envelope of [two, one, two, three, one, three]) tab.fake.push(envelope);
    expect(updates).toEqual([1, 2, 3]);
    expect(watch.values()).toEqual([1, 2, 3]);
  });

  it('emits an envelope delivered three times once', async () => {
    const server = createFakeServer();
    const { fake, watch, registration } = await registeredTab(server);
    const envelope = server.publish(registration, 'next', counter(1));
    fake.push(envelope);
    fake.push(envelope);
    fake.push(envelope);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(watch.values()).toEqual([1]);
  });

  it('restores order when envelopes arrive 5, 4, 3, 2, 1, without asking the log', async () => {
    const server = createFakeServer();
    const { fake, watch, registration, handle } = await registeredTab(server);
    const envelopes = [1, 2, 3, 4, 5].map((v) => server.publish(registration, 'next', counter(v)));
    for (const envelope of [...envelopes].reverse().slice(0, 4)) fake.push(envelope);
    expect(watch.results).toHaveLength(0);
    expect(handle.inspect().held).toBe(4);
    fake.push(envelopes[0]);
    expect(watch.values()).toEqual([1, 2, 3, 4, 5]);
    expect(handle.inspect().held).toBe(0);
    expect(server.to('GET /graphql/push/messages')).toHaveLength(0);
  });

  it('fills a gap from the log after gapWaitMs when the missing push never comes', async () => {
    const server = createFakeServer();
    const { fake, watch, registration } = await registeredTab(server, { gapWaitMs: 500 });
    const [first, , third] = [1, 2, 3].map((v) => server.publish(registration, 'next', counter(v)));
    fake.push(first);
    fake.push(third);
    expect(watch.values()).toEqual([1]);

    await vi.advanceTimersByTimeAsync(499);
    expect(server.to('GET /graphql/push/messages')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    await settle();

    const fetches = server.to('GET /graphql/push/messages');
    expect(fetches).toHaveLength(1);
    expect(fetches[0]?.search.get('after')).toBe('1');
    expect(fetches[0]?.search.get('registrationId')).toBe(registration.id);
    expect(fetches[0]?.search.get('tabId')).toBe(registration.tabId);
    expect(watch.values()).toEqual([1, 2, 3]);
  });

  it('retries a failed log fetch with backoff until the gap is filled', async () => {
    const server = createFakeServer();
    const { fake, watch, registration } = await registeredTab(server, { gapWaitMs: 100 });
    server.publish(registration, 'next', counter(1));
    fake.push(server.publish(registration, 'next', counter(2)));
    server.failMessages(2);
    // Attempts at 100 ms, then 100 + 200 ms, then 300 + 400 ms.
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    await vi.advanceTimersByTimeAsync(200);
    await settle();
    expect(watch.results).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(400);
    await settle();
    expect(server.to('GET /graphql/push/messages')).toHaveLength(3);
    expect(watch.values()).toEqual([1, 2]);
  });

  it('gives up seqs the log no longer has and goes on with the rest', async () => {
    const server = createFakeServer();
    const { fake, watch, registration, handle } = await registeredTab(server, { gapWaitMs: 100 });
    const third = [1, 2, 3].map((v) => server.publish(registration, 'next', counter(v)))[2];
    // The server trimmed seqs 1 and 2 from its log (TTL) before the tab asked.
    registration.log.splice(0, 2);
    fake.push(third);
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    expect(watch.values()).toEqual([3]);
    expect(handle.inspect().registrations[0]).toMatchObject({ lastSeq: 3, skipped: 2, held: 0 });
  });

  it('fetches a ref envelope from the log at once', async () => {
    const server = createFakeServer();
    const { fake, watch, registration } = await registeredTab(server);
    const full = server.publish(registration, 'next', counter(1));
    fake.push({ ...full, type: 'ref', payload: undefined });
    await settle();
    expect(server.to('GET /graphql/push/messages')).toHaveLength(1);
    expect(watch.values()).toEqual([1]);
  });

  it('delivers a 1 MB result sent by reference whole', async () => {
    const server = createFakeServer();
    const { fake, watch, registration } = await registeredTab(server);
    const blob = 'x'.repeat(1024 * 1024);
    const full = server.publish(registration, 'next', {
      data: { counter: { id: '1', value: 1, blob } },
    });
    fake.push({ ...full, type: 'ref', payload: undefined });
    await settle();
    expect(watch.results).toHaveLength(1);
    const data = watch.results[0]?.data as { counter: { blob: string } };
    expect(data.counter.blob.length).toBe(1_048_576);
    expect(data.counter.blob).toBe(blob);
  });

  it('ignores envelopes of another tab', async () => {
    const server = createFakeServer();
    const { fake, watch, registration, handle } = await registeredTab(server);
    const envelope = server.publish(registration, 'next', counter(1));
    fake.push({ ...envelope, tab: 'someone-else' });
    await vi.advanceTimersByTimeAsync(15_000);
    expect(watch.results).toHaveLength(0);
    expect(handle.inspect().otherTab).toBe(1);
    expect(handle.inspect().pending).toBe(0);
  });

  it('holds a push that arrives before its registration is acknowledged, then emits it', async () => {
    const server = createFakeServer();
    const release = server.hold('register');
    const tab = openTab(server);
    const watch = tab.watch();
    await settle();
    const registration = server.only();
    tab.fake.push(server.publish(registration, 'next', counter(1)));
    expect(watch.results).toHaveLength(0);
    expect(tab.handle.inspect().pending).toBe(1);

    release();
    await settle();
    expect(watch.values()).toEqual([1]);
    expect(tab.handle.inspect().pending).toBe(0);
  });

  it('drops an early push for an unknown registration after about 10 s', async () => {
    const server = createFakeServer();
    const { fake, handle } = await registeredTab(server);
    fake.push({
      v: 1,
      id: 'reg-x:1',
      tab: handle.inspect().tabId,
      reg: 'reg-x',
      seq: 1,
      type: 'complete',
    });
    expect(handle.inspect().pending).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(handle.inspect().pending).toBe(0);
  });

  it('bounds the envelopes held per registration', async () => {
    const server = createFakeServer();
    const { fake, handle, registration, watch } = await registeredTab(server, {
      maxHeldPerRegistration: 3,
      gapWaitMs: 1_000,
    });
    const envelopes = Array.from({ length: 10 }, (_, i) =>
      server.publish(registration, 'next', counter(i + 1)),
    );
    for (const envelope of envelopes.slice(1)) fake.push(envelope);
    expect(handle.inspect().held).toBe(3);
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(watch.values()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('emits an error envelope as GraphQL errors and ends the stream', async () => {
    const server = createFakeServer();
    const { fake, watch, registration, handle } = await registeredTab(server);
    fake.push(server.publish(registration, 'next', counter(1)));
    fake.push(server.publish(registration, 'error', { errors: [{ message: 'boom' }] }));
    expect(watch.results).toHaveLength(2);
    expect(watch.results[1]?.error?.graphQLErrors.map((e) => e.message)).toEqual(['boom']);
    expect(watch.results[1]?.hasNext).toBe(false);
    expect(watch.ended).toBe(true);
    expect(handle.inspect().registrations).toHaveLength(0);
  });

  it('ends the stream on a complete envelope, after the results before it', async () => {
    const server = createFakeServer();
    const { fake, watch, registration } = await registeredTab(server);
    const one = server.publish(registration, 'next', counter(1));
    const done = server.publish(registration, 'complete');
    fake.push(done);
    expect(watch.ended).toBe(false);
    fake.push(one);
    expect(watch.values()).toEqual([1]);
    expect(watch.ended).toBe(true);
  });
});

describe('lifecycle', () => {
  it('unregisters a registration when its operation is torn down', async () => {
    const server = createFakeServer();
    const { watch, registration, handle } = await registeredTab(server, { tabId: 'tab-u' });
    watch.unsubscribe();
    await settle();
    const unregisters = server.to('POST /graphql/push/unregister');
    expect(unregisters).toHaveLength(1);
    expect(unregisters[0]?.body).toEqual({ tabId: 'tab-u', registrationIds: [registration.id] });
    expect(handle.inspect().registrations).toHaveLength(0);
  });

  it('unregisters a registration acknowledged after its operation was torn down', async () => {
    const server = createFakeServer();
    const release = server.hold('register');
    const tab = openTab(server);
    const watch = tab.watch();
    await settle();
    watch.unsubscribe();
    release();
    await settle();
    expect(server.to('POST /graphql/push/unregister').map((r) => r.body?.registrationIds)).toEqual([
      [server.registrations.keys().next().value],
    ]);
    expect(tab.handle.inspect().registrations).toHaveLength(0);
  });

  it('keeps one registration when the same operation arrives again while it runs', async () => {
    const server = createFakeServer();
    const fake = createFakeTransport();
    const handle = webPushExchangeWithHandle({
      url: URL_,
      transport: fake.transport,
      storage: null,
      fetch: server.fetch as typeof fetch,
    });
    cleanups.push(handle.dispose);
    const client = new Client({ url: URL_, exchanges: [] });
    const operation = client.createRequestOperation(
      'subscription',
      createRequest(COUNTER, { id: '1' }),
    );
    const ops = makeSubject<Operation>();
    const results: OperationResult[] = [];
    pipe(
      handle.exchange({ forward: () => empty, client, dispatchDebug: () => {} })(ops.source),
      subscribe((result) => {
        results.push(result);
      }),
    );
    ops.next(operation);
    await settle();
    ops.next(operation);
    await settle();
    fake.push(server.publish(server.only(), 'next', counter(1)));
    expect(server.to('POST /graphql')).toHaveLength(1);
    expect(results.map((r) => r.data)).toEqual([counter(1).data]);
    ops.next(makeOperation('teardown', operation));
    await settle();
    expect(server.to('POST /graphql/push/unregister')).toHaveLength(1);
  });

  it('renews every renewIntervalMs with the last emitted seq as ackedSeq', async () => {
    const server = createFakeServer();
    const { fake, registration } = await registeredTab(server, {
      tabId: 'tab-r',
      renewIntervalMs: 1_000,
    });
    fake.push(server.publish(registration, 'next', counter(1)));
    fake.push(server.publish(registration, 'next', counter(2)));
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    const renewals = server.to('POST /graphql/push/renew');
    expect(renewals).toHaveLength(1);
    expect(renewals[0]?.body).toEqual({
      tabId: 'tab-r',
      subscriptionId: 'sub-1',
      registrations: [{ registrationId: registration.id, ackedSeq: 2 }],
    });
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(server.to('POST /graphql/push/renew')).toHaveLength(2);
  });

  it('registers the operation again when a renewal says its registration is gone', async () => {
    const server = createFakeServer();
    const { fake, watch, registration, handle } = await registeredTab(server);
    fake.push(server.publish(registration, 'next', counter(1)));
    registration.alive = false;
    await handle.renew();
    await settle();

    expect(server.to('POST /graphql')).toHaveLength(2);
    const replacement = server.only();
    expect(replacement.id).not.toBe(registration.id);
    expect(handle.inspect().registrations.map((r) => r.registrationId)).toEqual([replacement.id]);
    fake.push(server.publish(replacement, 'next', counter(2)));
    expect(watch.values()).toEqual([1, 2]);
    expect(watch.ended).toBe(false);
  });

  it('fills the gap a renewal reports from the log after gapWaitMs', async () => {
    const server = createFakeServer();
    const { fake, watch, registration, handle } = await registeredTab(server, { gapWaitMs: 300 });
    fake.push(server.publish(registration, 'next', counter(1)));
    server.publish(registration, 'next', counter(2));
    server.publish(registration, 'next', counter(3));
    await handle.renew();
    await settle();
    expect(server.to('GET /graphql/push/messages')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(300);
    await settle();
    const fetches = server.to('GET /graphql/push/messages');
    expect(fetches.map((r) => r.search.get('after'))).toEqual(['1']);
    expect(watch.values()).toEqual([1, 2, 3]);
  });

  it('does not fetch what a renewal reports when the pushes arrive within gapWaitMs', async () => {
    const server = createFakeServer();
    const { fake, watch, registration, handle } = await registeredTab(server, { gapWaitMs: 300 });
    fake.push(server.publish(registration, 'next', counter(1)));
    // Appended on the server, pushed, not yet arrived when the renewal answers.
    const inFlight = [2, 3].map((v) => server.publish(registration, 'next', counter(v)));
    await handle.renew();
    await settle();
    await vi.advanceTimersByTimeAsync(100);
    for (const envelope of inFlight) fake.push(envelope);
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(server.to('GET /graphql/push/messages')).toHaveLength(0);
    expect(watch.values()).toEqual([1, 2, 3]);
  });

  it('re-puts a changed push subscription and moves the registrations to it', async () => {
    const server = createFakeServer();
    const { fake, registration, handle } = await registeredTab(server);
    fake.changeSubscription('https://push.example/ep/2');
    await settle();
    expect(server.to('PUT /graphql/push/subscriptions').map((r) => r.body?.endpoint)).toEqual([
      'https://push.example/ep/1',
      'https://push.example/ep/2',
    ]);
    const renewal = server.to('POST /graphql/push/renew')[0];
    expect(renewal?.body?.subscriptionId).toBe('sub-3');
    expect(registration.subscriptionId).toBe('sub-3');
    expect(handle.inspect().subscriptionId).toBe('sub-3');
  });

  it('checks for missed messages when the page becomes visible', async () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    vi.stubGlobal('document', doc);
    const server = createFakeServer();
    const { watch, registration } = await registeredTab(server);
    server.publish(registration, 'next', counter(1));
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    await settle();
    expect(server.to('POST /graphql/push/renew')).toHaveLength(1);
    expect(watch.values()).toEqual([1]);
  });

  it('sends a keepalive JSON unregister on pagehide that only shortens the registrations to reloadGraceMs', async () => {
    const win = new EventTarget();
    vi.stubGlobal('window', win);
    const server = createFakeServer();
    const { registration } = await registeredTab(server, { tabId: 'tab-p', reloadGraceMs: 7_000 });
    win.dispatchEvent(new Event('pagehide'));
    await settle();
    const sent = server.to('POST /graphql/push/unregister');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.init.keepalive).toBe(true);
    expect(sent[0]?.headers.get('content-type')).toBe('application/json');
    expect(sent[0]?.body).toEqual({
      tabId: 'tab-p',
      registrationIds: [registration.id],
      graceMs: 7_000,
    });
  });
});

describe('reload', () => {
  it('resumes the stored registration and emits only the seqs after the stored lastSeq', async () => {
    const server = createFakeServer();
    const storage = memoryStorage();
    const before = await registeredTab(server, { storage });
    const registration = before.registration;
    before.fake.push(server.publish(registration, 'next', counter(1)));
    before.fake.push(server.publish(registration, 'next', counter(2)));
    await settle();
    // The page goes away: no teardown runs; events keep coming while it reloads.
    server.publish(registration, 'next', counter(3));
    const fourth = server.publish(registration, 'next', counter(4));

    const after = openTab(server, { storage });
    const watch = after.watch();
    await settle();
    after.fake.push(fourth);
    after.fake.push(server.publish(registration, 'next', counter(5)));

    expect(after.handle.inspect().tabId).toBe(before.handle.inspect().tabId);
    expect(server.to('POST /graphql')).toHaveLength(1);
    const resume = server.to('POST /graphql/push/renew')[0];
    expect(resume?.body?.registrations).toEqual([{ registrationId: registration.id, ackedSeq: 2 }]);
    expect(server.to('GET /graphql/push/messages')[0]?.search.get('after')).toBe('2');
    expect(watch.values()).toEqual([3, 4, 5]);
  });

  it('registers anew when the stored registration is gone', async () => {
    const server = createFakeServer();
    const storage = memoryStorage();
    const before = await registeredTab(server, { storage });
    before.registration.alive = false;

    const after = openTab(server, { storage });
    const watch = after.watch();
    await settle();
    expect(server.to('POST /graphql/push/renew')).toHaveLength(1);
    expect(server.to('POST /graphql')).toHaveLength(2);
    const replacement = server.only();
    after.fake.push(server.publish(replacement, 'next', counter(1)));
    expect(watch.values()).toEqual([1]);
  });

  it('unregisters and forgets a stored registration whose operation is torn down while resuming', async () => {
    const server = createFakeServer();
    const storage = memoryStorage();
    const before = await registeredTab(server, { storage });
    const registration = before.registration;

    const release = server.hold('renew');
    const after = openTab(server, { storage });
    const watch = after.watch();
    await settle();
    // The resuming renewal is in flight when the operation goes away.
    expect(server.to('POST /graphql/push/renew')).toHaveLength(1);
    watch.unsubscribe();
    release();
    await settle();
    expect(server.to('POST /graphql/push/renew')).toHaveLength(1);
    expect(server.to('POST /graphql/push/unregister').map((r) => r.body?.registrationIds)).toEqual([
      [registration.id],
    ]);

    const third = openTab(server, { storage });
    third.watch();
    await settle();
    expect(server.to('POST /graphql/push/renew')).toHaveLength(1);
    expect(server.to('POST /graphql')).toHaveLength(2);
  });

  it('serves an operation started on a disposed exchange with a WEB_PUSH_LINK_DISPOSED error', async () => {
    const server = createFakeServer();
    const tab = openTab(server);
    tab.handle.dispose();
    const watch = tab.watch();
    await settle();
    expect((watch.results[0]?.error?.networkError as { code?: string } | undefined)?.code).toBe(
      LinkErrorCode.Disposed,
    );
    expect(watch.ended).toBe(true);
    expect(server.requests).toHaveLength(0);
  });

  it('forgets the stored registration of an operation that was torn down', async () => {
    const server = createFakeServer();
    const storage = memoryStorage();
    const before = await registeredTab(server, { storage });
    before.watch.unsubscribe();
    await settle();

    const after = openTab(server, { storage });
    after.watch();
    await settle();
    expect(server.to('POST /graphql/push/renew')).toHaveLength(0);
    expect(server.to('POST /graphql')).toHaveLength(2);
  });
});

describe('dedup memory', () => {
  it('is bounded by dedupMaxEntries', async () => {
    const server = createFakeServer();
    const { fake, registration, handle } = await registeredTab(server, { dedupMaxEntries: 5 });
    for (let value = 1; value <= 12; value++) {
      fake.push(server.publish(registration, 'next', counter(value)));
    }
    expect(handle.inspect().dedupSize).toBe(5);
  });

  it('is bounded by dedupMaxAgeMs', async () => {
    const server = createFakeServer();
    const { fake, registration, handle } = await registeredTab(server, { dedupMaxAgeMs: 60_000 });
    fake.push(server.publish(registration, 'next', counter(1)));
    await vi.advanceTimersByTimeAsync(30_000);
    fake.push(server.publish(registration, 'next', counter(2)));
    expect(handle.inspect().dedupSize).toBe(2);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(handle.inspect().dedupSize).toBe(1);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(handle.inspect().dedupSize).toBe(0);
  });

  it('is persisted, bounded, so that a reload remembers what was emitted', async () => {
    const server = createFakeServer();
    const storage = memoryStorage();
    const before = await registeredTab(server, { storage, dedupMaxEntries: 3 });
    for (let value = 1; value <= 4; value++) {
      before.fake.push(server.publish(before.registration, 'next', counter(value)));
    }
    await settle();
    const after = openTab(server, { storage, dedupMaxEntries: 3 });
    expect(after.handle.inspect().dedupSize).toBe(3);
  });
});
