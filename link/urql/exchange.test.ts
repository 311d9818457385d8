import {
  Client,
  createClient as createUrqlClient,
  fetchExchange,
  gql,
  type OperationResult,
} from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import type { FormattedExecutionResult } from 'graphql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pipe, subscribe } from 'wonka';
import { RESYNC_CODE } from '../../protocol/index.js';
import type { WebPushClient } from '../client.js';
import { createLinkError, LinkErrorCode } from '../errors.js';
import type { SubscribeOptions, WebPushRequest, WebPushSink } from '../operations.js';
import { webPushExchangeWithHandle } from './exchange.js';

/**
 * The urql exchange is a thin adapter over the client: these tests drive it with a client whose
 * subscriptions the test answers by hand. The client itself is tested against a real server in
 * test/client/.
 */

const COUNTER = gql`
  subscription Counter($id: ID!) {
    counter(id: $id) {
      id
      value
    }
  }
`;

interface FakeSubscription {
  request: WebPushRequest;
  sink: WebPushSink;
  options: SubscribeOptions | undefined;
  stopped: boolean;
}

function createFakeClient() {
  const subscriptions: FakeSubscription[] = [];
  const client = {
    subscribe: vi.fn((request: WebPushRequest, sink: WebPushSink, options?: SubscribeOptions) => {
      const entry: FakeSubscription = { request, sink, options, stopped: false };
      subscriptions.push(entry);
      return () => {
        entry.stopped = true;
      };
    }),
    mode: 'stream',
    on: vi.fn(() => () => {}),
    enablePush: vi.fn(async () => ({ ok: true as const })),
    disablePush: vi.fn(async () => {}),
    renew: vi.fn(async () => {}),
    inspect: vi.fn(),
    dispose: vi.fn(),
    iterate: vi.fn(),
  } as unknown as WebPushClient;
  return { client, subscriptions };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function watch(urql: Client, id = 'c1', context = {}) {
  const results: OperationResult[] = [];
  let ended = false;
  const { unsubscribe } = pipe(
    urql.subscription(COUNTER, { id }, context),
    subscribe((result) => {
      results.push(result);
    }),
  );
  cleanups.push(unsubscribe);
  return {
    results,
    get ended() {
      return ended;
    },
    unsubscribe() {
      ended = true;
      unsubscribe();
    },
  };
}

const counter = (value: number, id = 'c1'): FormattedExecutionResult => ({
  data: { counter: { __typename: 'Counter', id, value } },
});

function setup(exchanges: 'plain' | 'graphcache' = 'plain', updates: number[] = []) {
  const fake = createFakeClient();
  const handle = webPushExchangeWithHandle({ client: fake.client });
  const cache =
    exchanges === 'graphcache'
      ? cacheExchange({
          updates: {
            Subscription: {
              counter: (result) => {
                updates.push((result.counter as { value: number }).value);
              },
            },
          },
        })
      : undefined;
  const urql = createUrqlClient({
    url: 'https://api.example/graphql',
    exchanges: [...(cache ? [cache] : []), handle.exchange, fetchExchange],
  });
  return { ...fake, handle, urql };
}

describe('webPushExchange', () => {
  it('hands the client the subscription as a GraphQL request, keyed by urql’s operation key', () => {
    const { urql, subscriptions } = setup();
    watch(urql, 'c7');
    expect(subscriptions).toHaveLength(1);
    const [entry] = subscriptions;
    expect(entry?.request.query).toContain('subscription Counter($id: ID!)');
    expect(entry?.request.variables).toEqual({ id: 'c7' });
    expect(entry?.request.operationName).toBe('Counter');
    expect(entry?.options?.key).toMatch(/^-?\d+$/);
  });

  it('emits one urql result per client result, in order', () => {
    const { urql, subscriptions } = setup();
    const seen = watch(urql);
    for (const value of [1, 2, 3]) subscriptions[0]?.sink.next(counter(value));
    expect(
      seen.results.map((r) => (r.data as { counter: { value: number } }).counter.value),
    ).toEqual([1, 2, 3]);
    expect(seen.results.every((r) => r.hasNext && r.error === undefined)).toBe(true);
  });

  it("runs graphcache's updates.Subscription exactly once per event, in order", () => {
    const updates: number[] = [];
    const { urql, subscriptions } = setup('graphcache', updates);
    watch(urql);
    for (const value of [1, 2, 3]) subscriptions[0]?.sink.next(counter(value));
    expect(updates).toEqual([1, 2, 3]);
  });

  it('turns a resync notice into a result with no data and no error, the code in extensions', () => {
    const { urql, subscriptions } = setup();
    const seen = watch(urql);
    subscriptions[0]?.sink.next(counter(1));
    subscriptions[0]?.sink.next({
      extensions: { webPush: { code: RESYNC_CODE, reason: 'registration-gone' } },
    });
    subscriptions[0]?.sink.next(counter(5));
    expect(seen.results).toHaveLength(3);
    expect(seen.results[1]).toMatchObject({
      data: undefined,
      error: undefined,
      hasNext: true,
      extensions: { webPush: { code: RESYNC_CODE, reason: 'registration-gone' } },
    });
    expect(
      (seen.results[2]?.data as { counter: { value: number } } | undefined)?.counter.value,
    ).toBe(5);
  });

  it('ends with a GraphQL-errors result when the client reports errors', () => {
    const { urql, subscriptions } = setup();
    const seen = watch(urql);
    subscriptions[0]?.sink.error([{ message: 'Not signed in', extensions: { code: 'X' } }]);
    expect(seen.results).toHaveLength(1);
    expect(seen.results[0]?.error?.graphQLErrors[0]?.message).toBe('Not signed in');
    expect(seen.results[0]?.hasNext).toBe(false);
  });

  it('ends with a network-error result carrying the link error', () => {
    const { urql, subscriptions } = setup();
    const seen = watch(urql);
    subscriptions[0]?.sink.error(createLinkError(LinkErrorCode.Disposed, 'gone'));
    expect(seen.results[0]?.error?.networkError).toMatchObject({ code: LinkErrorCode.Disposed });
  });

  it('turns a result without data or errors into an error result instead of throwing', () => {
    const { urql, subscriptions } = setup();
    const seen = watch(urql);
    subscriptions[0]?.sink.next({});
    expect(seen.results[0]?.error?.networkError).toMatchObject({
      code: LinkErrorCode.BadResponse,
    });
  });

  it('stops the client’s subscription on teardown', () => {
    const { urql, subscriptions } = setup();
    const seen = watch(urql);
    seen.unsubscribe();
    expect(subscriptions[0]?.stopped).toBe(true);
  });

  it('passes context.webPush.background on as the background option', () => {
    const { urql, subscriptions } = setup();
    watch(urql, 'c1', { webPush: { background: true } });
    expect(subscriptions[0]?.options?.background).toBe(true);
  });

  it('forwards queries and mutations untouched', async () => {
    const fake = createFakeClient();
    const handle = webPushExchangeWithHandle({ client: fake.client });
    const fetch = vi.fn(async () => new Response(JSON.stringify({ data: { ok: true } })));
    const urql = new Client({
      url: 'https://api.example/graphql',
      exchanges: [handle.exchange, fetchExchange],
      fetch,
    });
    await urql.query(gql`{ ok }`, {}).toPromise();
    expect(fake.subscriptions).toHaveLength(0);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('exposes the client’s mode and enablePush on the handle', async () => {
    const { handle, client } = setup();
    expect(handle.mode).toBe('stream');
    expect(await handle.enablePush()).toEqual({ ok: true });
    expect(client.enablePush).toHaveBeenCalledTimes(1);
  });
});
