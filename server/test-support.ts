/**
 * Test support for the plugin's own tests: a recording push sender, a small inventory schema
 * whose subscription streams report when they are closed, and an in-process Yoga around
 * `useWebPush`.
 * @packageDocumentation
 */
import { createECDH, randomBytes } from 'node:crypto';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { createGraphQLError, createPubSub } from 'graphql-yoga';
import {
  type Envelope,
  type ErrorCode,
  parsePushPayload,
  REGISTRATION_HEADER,
  REGISTRATION_HEADER_VALUE,
} from '../protocol/index.js';
import { createTestYoga } from '../test/support/yoga.js';
import type { WebPushOptions } from './options.js';
import type { PushSender, PushTarget, SendOptions, SendResult } from './push/index.js';

/** One message the recording sender was asked to send, decoded. */
export interface SentMessage {
  target: PushTarget;
  /** The first (or only) envelope it carries. */
  envelope: Envelope;
  /** Every envelope it carries: one, or a batch for several tabs of one browser. */
  envelopes: Envelope[];
  bytes: number;
  options: SendOptions;
}

/** A {@link PushSender} that records what it is given and answers as scripted. */
export interface RecordingSender extends PushSender {
  sent: SentMessage[];
  /** Sets how later sends are answered (default: delivered). */
  answer(fn: (message: SentMessage) => SendResult | Promise<SendResult>): void;
  closed: boolean;
}

/**
 * Creates a {@link RecordingSender}.
 * @returns the sender; every plaintext must be an envelope or a batch of them, or the send
 * throws
 */
export function createRecordingSender(): RecordingSender {
  let answer: (message: SentMessage) => SendResult | Promise<SendResult> = () => ({
    ok: true,
    status: 201,
    attempts: 1,
  });
  const sender: RecordingSender = {
    sent: [],
    closed: false,
    answer(fn) {
      answer = fn;
    },
    async send(target, plaintext, options) {
      const envelopes = parsePushPayload(plaintext);
      const envelope = envelopes?.[0];
      if (!envelope) throw new Error(`not an envelope: ${new TextDecoder().decode(plaintext)}`);
      const message = { target, envelope, envelopes, bytes: plaintext.byteLength, options };
      sender.sent.push(message);
      return answer(message);
    },
    async close() {
      sender.closed = true;
    },
  };
  return sender;
}

/**
 * Keys a browser would send: a real P-256 point and a random auth secret.
 * @returns `PushSubscription.toJSON().keys`
 */
export function createBrowserKeys(): { p256dh: string; auth: string } {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    p256dh: ecdh.getPublicKey().toString('base64url'),
    auth: randomBytes(16).toString('base64url'),
  };
}

/** A tab id as the link makes them. */
export const newTabId = (): string => randomBytes(16).toString('base64url');

export interface Product {
  id: string;
  stock: number;
  note?: string;
}

const typeDefs = /* GraphQL */ `
  type Product {
    id: ID!
    stock: Int!
    note: String
  }
  type Query {
    product(id: ID!): Product
  }
  type Mutation {
    setStock(productId: ID!, stock: Int!): Product!
  }
  type Subscription {
    stockChanged(productId: ID!): Product!
    countdown(from: Int!): Int!
    broken: Int!
    secret: Int!
  }
`;

/**
 * The inventory schema, with counters the tests read: how many streams were closed (`return`
 * ran) per product, how many stock events were resolved (executions), and how many mutations ran.
 * @returns schema, pubsub and counters
 */
export function createInventory() {
  const pubSub = createPubSub<{ stockChanged: [productId: string, product: Product] }>();
  const counters = {
    returned: new Map<string, number>(),
    mutations: 0,
    subscribed: 0,
    resolved: 0,
  };

  function tracked<T>(source: AsyncIterable<T>, key: string): AsyncIterableIterator<T> {
    const inner = source[Symbol.asyncIterator]();
    return {
      next: () => inner.next(),
      return: (value?: unknown) => {
        counters.returned.set(key, (counters.returned.get(key) ?? 0) + 1);
        return inner.return
          ? inner.return(value)
          : Promise.resolve({ done: true as const, value: undefined });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  const schema = makeExecutableSchema({
    typeDefs,
    resolvers: {
      Query: { product: (_: unknown, { id }: { id: string }) => ({ id, stock: 0 }) },
      Mutation: {
        setStock: (_: unknown, { productId, stock }: { productId: string; stock: number }) => {
          counters.mutations += 1;
          const product = { id: productId, stock };
          pubSub.publish('stockChanged', productId, product);
          return product;
        },
      },
      Subscription: {
        stockChanged: {
          subscribe: (_: unknown, { productId }: { productId: string }) => {
            counters.subscribed += 1;
            return tracked(pubSub.subscribe('stockChanged', productId), productId);
          },
          resolve: (product: Product) => {
            counters.resolved += 1;
            return product;
          },
        },
        countdown: {
          subscribe: async function* (_: unknown, { from }: { from: number }) {
            for (let n = from; n > 0; n -= 1) yield n;
          },
          resolve: (n: number) => n,
        },
        broken: {
          subscribe: async function* () {
            yield 1;
            throw new Error('database password is hunter2');
          },
          resolve: (n: number) => n,
        },
        secret: {
          subscribe: (_: unknown, __: unknown, context: { request: Request }) => {
            if (context.request.headers.get('authorization') !== 'Bearer good') {
              throw createGraphQLError('Not signed in', {
                extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
              });
            }
            return tracked(
              (async function* () {
                yield 7;
              })(),
              'secret',
            );
          },
          resolve: (n: number) => n,
        },
      },
    },
  });
  return { schema, pubSub, counters };
}

/** A GraphQL or route answer: status and parsed JSON body. */
export interface Answer {
  status: number;
  contentType: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers freely
  body: any;
}

/**
 * Starts Yoga with `useWebPush` in process (`yoga.fetch`), a recording sender and a memory store.
 * @param options - plugin options to override
 * @returns the server and helpers that speak the protocol
 */
export function createTestServer(options: Partial<WebPushOptions> = {}) {
  const sender = createRecordingSender();
  const inventory = createInventory();
  const { yoga, vapid, store } = createTestYoga({ schema: inventory.schema, sender, ...options });

  async function call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const response = await yoga.fetch(`http://yoga/graphql${path}`, init);
    const text = await response.text();
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: text === '' ? null : JSON.parse(text),
    };
  }

  let endpointCounter = 0;
  /** PUTs a new push subscription on the allowed local origin; returns its id and data. */
  async function subscribe(endpoint = `http://127.0.0.1:9999/push/${++endpointCounter}`) {
    const data = { endpoint, expirationTime: null, keys: createBrowserKeys() };
    const answer = await call('PUT', '/push/subscriptions', data);
    if (answer.status !== 200) throw new Error(`subscribe: ${JSON.stringify(answer.body)}`);
    return { subscriptionId: answer.body.subscriptionId as string, data };
  }

  /** POSTs a registration of `query`. */
  function register(
    webPush: unknown,
    query = 'subscription($p: ID!) { stockChanged(productId: $p) { id stock note } }',
    variables: Record<string, unknown> = { p: 'p1' },
    headers: Record<string, string> = {},
  ) {
    return call(
      'POST',
      '',
      { query, variables, extensions: { webPush } },
      { accept: 'application/json', [REGISTRATION_HEADER]: REGISTRATION_HEADER_VALUE, ...headers },
    );
  }

  /** Registers and returns the registration id, failing on anything but an ack. */
  async function registered(
    subscriptionId: string,
    tabId = newTabId(),
    query?: string,
    variables?: Record<string, unknown>,
  ) {
    const answer = await register({ subscriptionId, tabId, operationKey: '1' }, query, variables);
    if (answer.status !== 200) throw new Error(`register: ${JSON.stringify(answer.body)}`);
    return { registrationId: answer.body.extensions.webPush.registrationId as string, tabId };
  }

  const publish = (product: Product) =>
    inventory.pubSub.publish('stockChanged', product.id, product);

  const envelopesOf = (registrationId: string) =>
    sender.sent.flatMap((m) => m.envelopes.filter((e) => e.reg === registrationId));

  return {
    yoga,
    store,
    sender,
    inventory,
    vapid,
    call,
    subscribe,
    register,
    registered,
    publish,
    envelopesOf,
  };
}

export type TestServer = ReturnType<typeof createTestServer>;

/**
 * The shape of a refusal for `toMatchObject`: exact status and exactly one error with `code`.
 * @param status - expected HTTP status
 * @param code - expected `extensions.code`
 * @returns the partial answer to match
 */
export function refusal(status: number, code: ErrorCode | string) {
  return { status, body: { errors: [{ extensions: { code } }] } };
}
