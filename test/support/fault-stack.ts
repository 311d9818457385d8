import { sleep } from '../../protocol/backoff.js';
import type { Faults } from '../../push-service/index.js';
import type { WebPushOptions } from '../../server/options.js';
import {
  createPushSender,
  type PushSender,
  type PushSenderOptions,
} from '../../server/push/index.js';
import { generateVapidKeys } from '../../server/vapid.js';
import { createFeedSchema } from './feed-schema.js';
import { startYogaStack } from './stack.js';
import { TEST_VAPID_SUBJECT } from './yoga.js';

/** Options of {@link startFaultStack}. */
export interface FaultStackOptions {
  /** Faults the push service injects from the start. */
  faults?: Faults;
  /** Options of the push sender, over fast retries (Retry-After is still honoured). */
  sender?: Partial<Omit<PushSenderOptions, 'vapid'>>;
  /** Options of `useWebPush`, over the stack's own. */
  plugin?: Partial<WebPushOptions>;
}

/**
 * The server side of the fault suites on real sockets: the local push service with faults, and
 * Yoga with `useWebPush` serving the feed schema on node:http. The push sender retries fast
 * (10 ms backoff ceiling at first) so that 5xx runs stay short, while a `Retry-After` of a few
 * seconds is still waited out in full. `sends` counts the plugin's push sends: started, settled
 * (retries included in one send), and waiting between attempts right now; `waits` lists every
 * wait between attempts, in milliseconds.
 * @param options - see {@link FaultStackOptions}
 * @returns the running stack; `close()` stops all of it
 */
export async function startFaultStack({
  faults = {},
  sender = {},
  plugin = {},
}: FaultStackOptions = {}) {
  const vapid = { subject: TEST_VAPID_SUBJECT, ...generateVapidKeys() };
  // Counted so that a test can publish only as fast as pushes go out: `started - settled -
  // waiting` sends are busy (encrypting, queued for a connection, or on the wire).
  const sends = { started: 0, settled: 0, waiting: 0, waits: [] as number[] };
  const pushSender = createPushSender({
    vapid,
    sleep: async (ms, signal) => {
      sends.waits.push(ms);
      sends.waiting++;
      try {
        await sleep(ms, signal);
      } finally {
        sends.waiting--;
      }
    },
    baseBackoffMs: 10,
    maxBackoffMs: 5_000,
    timeoutMs: 5_000,
    ...sender,
  });
  const countingSender: PushSender = {
    async send(target, plaintext, options) {
      sends.started++;
      try {
        return await pushSender.send(target, plaintext, options);
      } finally {
        sends.settled++;
      }
    },
    close: () => pushSender.close(),
  };
  const feed = createFeedSchema();
  const { url, store, pushService, close } = await startYogaStack({
    schema: feed.schema,
    pushService: { faults },
    plugin: {
      vapid,
      sender: countingSender,
      // These suites test the client against a push service that reorders and duplicates
      // one registration's pushes; with topics it would replace them instead.
      pushTopics: false,
      ...plugin,
    },
    // The sender is ours, not the plugin's: closing it ends retries still waiting.
    afterDispose: () => pushSender.close(),
  });

  return { url, store, pushService, publish: feed.publish, sends, vapid, close };
}

/** A running {@link startFaultStack}. */
export type FaultStack = Awaited<ReturnType<typeof startFaultStack>>;
