import { buildSchema, type ExecutionResult, type GraphQLSchema, parse, subscribe } from 'graphql';
import { filter, type PubSub, pipe } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireRedis } from '../../test/support/redis.js';
import { deleteKeysWithPrefix, REDIS_URL, testPrefix } from '../store/redis-test-support.js';
import { createPubSub, type ReplayablePubSub } from './create-pubsub.js';
import { createCursorTracker, runWithEventCursor } from './cursor.js';

beforeAll(() => requireRedis());

type Topics = { stock: [productId: string, payload: { id: string; count: number }] };

const redis = new Redis(REDIS_URL);
const prefix = testPrefix('graphql');
afterAll(async () => {
  await deleteKeysWithPrefix(redis, `{${prefix}}`);
  await redis.quit();
});

/** An ordinary resolver: nothing in it knows about cursors. */
function schemaFor(pubSub: PubSub<Topics>): GraphQLSchema {
  const schema = buildSchema(/* GraphQL */ `
    type Stock { id: ID!, count: Int! }
    type Query { ok: Boolean }
    type Subscription { lowStock(id: ID!): Stock }
  `);
  const field = schema.getSubscriptionType()?.getFields().lowStock;
  if (!field) throw new Error('no lowStock field');
  field.subscribe = async (_, { id }) => {
    await Promise.resolve(); // e.g. an auth check: the cursor survives awaits
    return pipe(
      pubSub.subscribe('stock', id),
      filter((stock) => stock.count < 5),
    );
  };
  field.resolve = (stock) => stock;
  return schema;
}

const document = parse('subscription { lowStock(id: "p1") { count } }');

async function start(pubSub: PubSub<Topics>, cursor: string | null) {
  const tracker = createCursorTracker(cursor);
  const stream = (await runWithEventCursor(tracker, () =>
    subscribe({ schema: schemaFor(pubSub), document }),
  )) as AsyncGenerator<ExecutionResult>;
  return { tracker, stream };
}

describe('createPubSub with graphql-js subscribe()', () => {
  const opened: ReplayablePubSub<Topics>[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((pubSub) => pubSub.close()));
  });

  it('resumes a subscription on another instance after the last event that produced a result', async () => {
    const first = createPubSub<Topics>({ redis, prefix });
    const second = createPubSub<Topics>({ redis, prefix });
    opened.push(first, second);
    const { tracker, stream } = await start(first, null);
    const pending = stream.next();
    const ids: string[] = [];
    for (const count of [9, 4, 8, 3, 2]) {
      ids.push(await first.publish('stock', 'p1', { id: 'p1', count }));
    }

    expect(await pending).toEqual({ value: { data: { lowStock: { count: 4 } } }, done: false });
    expect(tracker.current).toBe(ids[1]);
    expect(await stream.next()).toEqual({
      value: { data: { lowStock: { count: 3 } } },
      done: false,
    });
    expect(tracker.current).toBe(ids[3]);
    await stream.return(undefined);

    // The adopting instance resumes after count 3: it gets 2, and nothing already sent.
    const resumed = await start(second, tracker.current);
    expect(await resumed.stream.next()).toEqual({
      value: { data: { lowStock: { count: 2 } } },
      done: false,
    });
    expect(resumed.tracker.current).toBe(ids[4]);
    await resumed.stream.return(undefined);
  });
});
