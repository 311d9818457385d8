import { makeExecutableSchema } from '@graphql-tools/schema';
import { createPubSub } from 'graphql-yoga';

/** One event of a feed as the fixture schema yields it. */
export interface Tick {
  feed: string;
  /** Position in the feed, from 1: what the tests compare. */
  n: number;
  /** Filler; big values prove that results larger than one push message arrive whole. */
  text: string;
}

/** The subscription every fault suite runs: one feed per variable value. */
export const TICKED = /* GraphQL */ `
  subscription Ticked($feed: ID!) {
    ticked(feed: $feed) {
      feed
      n
      text
    }
  }
`;

/**
 * A schema with one subscription, `ticked(feed)`, fed by `publish(feed, n, text)`. Publishing
 * goes straight to the pub/sub, so a test can drive thousands of events without an HTTP request
 * each.
 * @returns the schema and `publish`
 */
export function createFeedSchema() {
  const pubSub = createPubSub<{ ticked: [feed: string, tick: Tick] }>();
  const schema = makeExecutableSchema({
    typeDefs: /* GraphQL */ `
      type Tick {
        feed: ID!
        n: Int!
        text: String!
      }
      type Query {
        ready: Boolean!
      }
      type Subscription {
        ticked(feed: ID!): Tick!
      }
    `,
    resolvers: {
      Query: { ready: () => true },
      Subscription: {
        ticked: {
          subscribe: (_: unknown, { feed }: { feed: string }) => pubSub.subscribe('ticked', feed),
          resolve: (tick: Tick) => tick,
        },
      },
    },
  });

  /** Publishes event `n` of `feed`. */
  function publish(feed: string, n: number, text = ''): void {
    pubSub.publish('ticked', feed, { feed, n, text });
  }

  return { schema, publish };
}

// Two- and four-byte UTF-8 characters among ASCII: a result cut or re-encoded anywhere shows.
const ALPHABET = ['a', 'b', 'Z', '0', '~', 'é', 'ß', '€', '😀', '"', '\\', ' '];

/**
 * A deterministic string of exactly `bytes` UTF-8 bytes, different for each `seed`.
 * @param bytes - UTF-8 length of the result
 * @param seed - varies the content
 * @returns the string
 */
export function filler(bytes: number, seed = 1): string {
  const parts: string[] = [];
  let length = 0;
  let state = seed >>> 0 || 1;
  while (length < bytes) {
    // xorshift32: cheap, deterministic, and good enough to vary the characters.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    let char = ALPHABET[state % ALPHABET.length] ?? 'a';
    const size = Buffer.byteLength(char, 'utf8');
    if (length + size > bytes) char = 'x';
    parts.push(char);
    length += Buffer.byteLength(char, 'utf8');
  }
  return parts.join('');
}
