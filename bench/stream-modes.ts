/**
 * The two ways the `stream` suite subscribes to the same operation on the same server: a
 * stream-mode registration read over `GET …/push/stream`, and Yoga's own SSE subscription.
 */
import { randomBytes } from 'node:crypto';
import {
  decodeStreamEvent,
  EXTENSION_KEY,
  REGISTRATION_HEADER,
  REGISTRATION_HEADER_VALUE,
  ROUTES,
} from '../protocol/index.js';
import { openEventStream, requestJson } from './sse-client.js';

/** How a subscriber receives events. */
export type Mode = 'stream' | 'sse';

/** What the child server's subscription yields. */
export interface Tick {
  topic: string;
  n: number;
  /** The child's clock when it published (see `clockMs`). */
  publishedAt: number;
}

/** One open subscription. */
export interface Subscriber {
  close(): void;
}

/** Called with each tick as soon as its event is parsed (the reader stamps its arrival). */
export type OnTick = (tick: Tick) => void;

const QUERY = 'subscription ($t: ID!) { ticked(topic: $t) { topic n publishedAt } }';

const tickOf = (result: unknown): Tick | undefined =>
  (result as { data?: { ticked?: Tick } } | undefined)?.data?.ticked;

/**
 * Registers `topic` for a new tab with no push subscription and opens the tab's stream.
 * @param url - the GraphQL endpoint
 * @param topic - what to subscribe to
 * @param onTick - each result, as it is read
 * @returns the subscriber, once the stream said `ready`
 */
export async function subscribeByStream(
  url: string,
  topic: string,
  onTick: OnTick,
): Promise<Subscriber> {
  const tabId = randomBytes(16).toString('base64url');
  await requestJson(url, {
    headers: { [REGISTRATION_HEADER]: REGISTRATION_HEADER_VALUE },
    body: {
      query: QUERY,
      variables: { t: topic },
      extensions: { [EXTENSION_KEY]: { tabId, operationKey: topic } },
    },
  });
  let ready: () => void = () => {};
  const isReady = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const stream = await openEventStream(
    `${url}${ROUTES.stream}?tabId=${tabId}`,
    { method: 'GET' },
    (raw) => {
      const event = decodeStreamEvent(raw);
      if (event?.kind === 'ready') ready();
      if (event?.kind !== 'envelope' || event.envelope.type !== 'next') return;
      const tick = tickOf(event.envelope.payload);
      if (tick) onTick(tick);
    },
  );
  await isReady;
  return stream;
}

/**
 * Subscribes to `topic` with Yoga's SSE transport (`POST /graphql`, `accept:
 * text/event-stream`), what a connection-per-tab server holds.
 * @param url - the GraphQL endpoint
 * @param topic - what to subscribe to
 * @param onTick - each result, as it is read
 * @returns the subscriber, once the response started
 */
export function subscribeBySse(url: string, topic: string, onTick: OnTick): Promise<Subscriber> {
  return openEventStream(
    url,
    { method: 'POST', body: { query: QUERY, variables: { t: topic } } },
    (raw) => {
      if (raw.type !== 'next') return;
      const tick = tickOf(JSON.parse(raw.data));
      if (tick) onTick(tick);
    },
  );
}

/** Subscribes in the given mode. */
export const subscribe = (mode: Mode, url: string, topic: string, onTick: OnTick) =>
  mode === 'stream' ? subscribeByStream(url, topic, onTick) : subscribeBySse(url, topic, onTick);
