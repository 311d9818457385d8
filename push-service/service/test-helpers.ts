/**
 * Fixtures shared by the push service's tests: VAPID keys, sending with `web-push`, a VAPID
 * signer that can produce wrong tokens on purpose, and waits that fail fast.
 */
import { createPrivateKey, sign } from 'node:crypto';
import webpush from 'web-push';
import type { PushSubscriptionData } from '../../protocol/index.js';
import { send } from './https-test-support.js';
import type { AckRecord, PushService, PushServiceEvents } from './types.js';

/** A VAPID key pair, base64url: `publicKey` 65 bytes, `privateKey` 32 bytes. */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

/** A fresh VAPID key pair. */
export function vapidKeys(): VapidKeys {
  return webpush.generateVAPIDKeys();
}

/** Options of {@link pushWithWebPush}. */
export interface PushOptions {
  ttl?: number;
  topic?: string;
  urgency?: webpush.Urgency;
  /** Headers that replace (or, with `undefined`, remove) what web-push generated. */
  headers?: Record<string, string | undefined>;
}

/**
 * Encrypts and signs with `web-push` and POSTs with {@link send}: `fetch` to a plain service
 * (web-push's own sender only speaks https), the trusted transport to a secure one.
 * @returns the push service's response
 */
export async function pushWithWebPush(
  subscription: PushSubscriptionData,
  payload: string | Buffer,
  vapid: VapidKeys,
  { ttl = 60, topic, urgency, headers = {} }: PushOptions = {},
): Promise<Response> {
  const details = webpush.generateRequestDetails(
    { endpoint: subscription.endpoint, keys: subscription.keys },
    payload,
    {
      vapidDetails: { subject: 'mailto:test@example.com', ...vapid },
      TTL: ttl,
      contentEncoding: 'aes128gcm',
      ...(topic ? { topic } : {}),
      ...(urgency ? { urgency } : {}),
    },
  );
  const merged: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...details.headers, ...headers })) {
    // fetch computes Content-Length itself.
    if (value !== undefined && name.toLowerCase() !== 'content-length') {
      merged[name] = String(value);
    }
  }
  const body = details.body ? new Uint8Array(details.body) : null;
  return send(details.endpoint, { method: 'POST', headers: merged, body });
}

/** Claims and key of a VAPID token made by {@link signVapid}. */
export interface VapidToken {
  aud: string;
  /** Epoch seconds. */
  exp?: number;
  sub?: string;
  /** Signs with this key pair. */
  keys: VapidKeys;
  /** Sends this `k` instead of the signing key's. */
  k?: string;
}

/**
 * Builds `vapid t=<JWT>, k=<key>` with any claims, including ones a push service must refuse.
 * @returns the Authorization header value
 */
export function signVapid({
  aud,
  exp,
  sub = 'mailto:test@example.com',
  keys,
  k,
}: VapidToken): string {
  const publicKey = Buffer.from(keys.publicKey, 'base64url');
  const privateKey = createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      d: keys.privateKey,
      x: publicKey.subarray(1, 33).toString('base64url'),
      y: publicKey.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ typ: 'JWT', alg: 'ES256' })}.${encode({ aud, exp, sub })}`;
  const signature = sign('sha256', Buffer.from(unsigned), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  }).toString('base64url');
  return `vapid t=${unsigned}.${signature}, k=${k ?? keys.publicKey}`;
}

/**
 * Rejects if `promise` does not settle within `ms`, so that a missing delivery fails fast.
 * @returns the promise's value
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Waits until `count` events of one kind matched `predicate`.
 * @returns the matching events in order
 */
export function nextEvents<K extends keyof PushServiceEvents>(
  service: PushService,
  event: K,
  count: number,
  predicate: (payload: PushServiceEvents[K]) => boolean = () => true,
  ms = 3000,
): Promise<PushServiceEvents[K][]> {
  const seen: PushServiceEvents[K][] = [];
  let stop = () => {};
  const done = new Promise<PushServiceEvents[K][]>((resolve) => {
    stop = service.on(event, (payload) => {
      if (!predicate(payload)) return;
      seen.push(payload);
      if (seen.length === count) resolve(seen);
    });
  });
  return within(done, ms, `${count} ${String(event)} events (got ${seen.length})`).finally(() =>
    stop(),
  );
}

/** Resolves after `ms`; only for letting a TTL pass, never to wait for a delivery. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until the service has received an ack (or nack) for message `version`.
 * @returns the ack
 */
export function ackOf(service: PushService, version: string, ms = 3000): Promise<AckRecord> {
  const seen = service.acks.find((ack) => ack.version === version);
  if (seen) return Promise.resolve(seen);
  let stop = () => {};
  const done = new Promise<AckRecord>((resolve) => {
    stop = service.on('ack', (ack) => {
      if (ack.version === version) resolve(ack);
    });
  });
  return within(done, ms, `ack of ${version}`).finally(() => stop());
}

/**
 * The message id at the end of a 201's `Location`.
 * @returns the id, or `''` without a Location
 */
export function messageIdOf(response: Response): string {
  return response.headers.get('location')?.split('/').pop() ?? '';
}
