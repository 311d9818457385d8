/**
 * A bare push-protocol client for the service's tests: it sends exactly the frames it is given
 * (Firefox's, or broken ones) and never decrypts, so the service is tested without the Node user
 * agent.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import webpush from 'web-push';
import WebSocket from 'ws';
import type { PushSubscriptionData } from '../../protocol/index.js';
import { PUSH_SUBPROTOCOL } from '../wire/frames.js';
import { within } from './test-helpers.js';

/** A decoded JSON frame. */
export type Frame = Record<string, unknown>;

/** An open bare client. */
export interface BareClient {
  socket: WebSocket;
  send(frame: Frame | string): void;
  /** The next frame not yet read; fails after 2 s. */
  next(): Promise<Frame>;
  /** The close code, once the socket closed; fails after 2 s. */
  closed(): Promise<number>;
}

/**
 * Opens a WebSocket to the service.
 * @param wsUrl - the service's `wsUrl`
 * @param protocol - the subprotocol to offer, `null` for none
 * @returns the client, once open
 */
export async function openBareClient(
  wsUrl: string,
  protocol: string | null = PUSH_SUBPROTOCOL,
): Promise<BareClient> {
  const socket = new WebSocket(wsUrl, protocol ?? []);
  const inbox: Frame[] = [];
  const waiters: ((frame: Frame) => void)[] = [];
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Frame;
    const waiter = waiters.shift();
    if (waiter) waiter(frame);
    else inbox.push(frame);
  });
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  socket.on('error', () => {});
  await once(socket, 'open');
  return {
    socket,
    send: (frame) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    next: () =>
      within(
        new Promise<Frame>((resolve) => {
          const frame = inbox.shift();
          if (frame) resolve(frame);
          else waiters.push(resolve);
        }),
        2000,
        'next frame',
      ),
    closed: () => within(closed, 2000, 'socket close'),
  };
}

/**
 * Says hello the way Firefox does.
 * @returns the service's answer
 */
export function hello(client: BareClient, uaid?: string): Promise<Frame> {
  client.send({
    messageType: 'hello',
    broadcasts: {},
    use_webpush: true,
    ...(uaid ? { uaid } : {}),
  });
  return client.next();
}

/**
 * Registers a channel; `key` is sent as given (Firefox pads it with `=`).
 * @returns the service's answer
 */
export function register(client: BareClient, channelID: string, key?: string): Promise<Frame> {
  client.send({ messageType: 'register', channelID, ...(key ? { key } : {}) });
  return client.next();
}

/** Subscription keys for web-push to encrypt with; nobody decrypts what the bare client gets. */
export function fakeKeys(): PushSubscriptionData['keys'] {
  return {
    p256dh: webpush.generateVAPIDKeys().publicKey,
    auth: Buffer.alloc(16, 1).toString('base64url'),
  };
}

/** A push subscription held by a bare client. */
export interface BareSubscription {
  client: BareClient;
  uaid: string;
  channelID: string;
  subscription: PushSubscriptionData;
}

/**
 * Connects, says hello and registers one channel for `applicationServerKey`.
 * @returns the client and a subscription web-push can send to
 */
export async function subscribeBare(
  wsUrl: string,
  applicationServerKey: string,
  uaid?: string,
): Promise<BareSubscription> {
  const client = await openBareClient(wsUrl);
  const answer = await hello(client, uaid);
  const channelID = randomUUID();
  const reply = await register(client, channelID, `${applicationServerKey}=`);
  if (reply.status !== 200) throw new Error(`register answered ${String(reply.status)}`);
  return {
    client,
    uaid: answer.uaid as string,
    channelID,
    subscription: {
      endpoint: reply.pushEndpoint as string,
      expirationTime: null,
      keys: fakeKeys(),
    },
  };
}
