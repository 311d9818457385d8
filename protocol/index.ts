/**
 * The wire protocol of graphql-web-push, shared by every part (server, link, service worker,
 * push service). PROTOCOL.md describes the same things in prose; keep both true.
 *
 * Nothing in here does I/O: types, constants and validators only, so that a browser bundle that
 * imports it stays small.
 * @packageDocumentation
 */

/** Version of the push envelope format; the `v` field of every envelope. */
export const PROTOCOL_VERSION = 1;

/**
 * Most plaintext bytes one aes128gcm record can carry inside a 4096-byte push message
 * (RFC 8291 section 4: 4096 - 86 header bytes - 16 tag - 1 padding delimiter).
 */
export const MAX_PUSH_PLAINTEXT_BYTES = 3993;

/**
 * Default budget for one push message's plaintext. Smaller than the RFC maximum because some
 * push bridges (Firefox on Android) carry less; a larger result goes `type: "ref"`.
 */
export const DEFAULT_PUSH_BUDGET_BYTES = 3072;

/** Path segments of the plugin's routes, below the GraphQL endpoint (`/graphql/push/...`). */
export const ROUTES = {
  config: '/push/config',
  subscriptions: '/push/subscriptions',
  renew: '/push/renew',
  messages: '/push/messages',
  unregister: '/push/unregister',
} as const;

/** Key under `extensions` that marks a GraphQL request as a Web Push registration. */
export const EXTENSION_KEY = 'webPush';

/**
 * Request header every registration (`POST /graphql` with `extensions.webPush`) carries, value
 * {@link REGISTRATION_HEADER_VALUE}. It tells the server before reading the body that this is a
 * registration, so the body limit applies before anything is buffered; and, being a custom
 * header, no cross-site form or simple request can carry it (a browser preflights it).
 */
export const REGISTRATION_HEADER = 'x-graphql-web-push';

/** Value of {@link REGISTRATION_HEADER}. */
export const REGISTRATION_HEADER_VALUE = 'register';

/** What a push message means for its registration. */
export type EnvelopeType = 'next' | 'error' | 'complete' | 'ref';

/**
 * The plaintext of every push message the server sends (JSON inside RFC 8291 encryption), and the
 * items `GET .../messages` returns.
 */
export interface Envelope {
  /** Protocol version, {@link PROTOCOL_VERSION}. */
  v: 1;
  /** Unique id of this message: `${reg}:${seq}`. */
  id: string;
  /** Tab id the registration belongs to. */
  tab: string;
  /** Registration id. */
  reg: string;
  /** Position in the registration's stream, contiguous from 1. */
  seq: number;
  /** `next` carries an ExecutionResult, `error` a list of GraphQL errors, `complete` nothing. */
  type: EnvelopeType;
  /**
   * `next`: `{ data?, errors?, extensions? }`; `error`: `{ errors }`; absent for `complete` and
   * for `ref` (too big for one push: fetch it from `.../messages`).
   */
  payload?: unknown;
}

/** Builds the id of the message at `seq` of registration `reg`. */
export function envelopeId(reg: string, seq: number): string {
  return `${reg}:${seq}`;
}

const ENVELOPE_TYPES: ReadonlySet<string> = new Set(['next', 'error', 'complete', 'ref']);

/**
 * Parses and validates an envelope from JSON text, UTF-8 bytes or an already parsed value.
 * @returns the envelope, or `null` when the input is not one of ours (another app's push).
 */
export function parseEnvelope(input: unknown): Envelope | null {
  let value = input;
  try {
    if (input instanceof Uint8Array || input instanceof ArrayBuffer) {
      value = JSON.parse(new TextDecoder().decode(input));
    } else if (typeof input === 'string') {
      value = JSON.parse(input);
    }
  } catch {
    return null;
  }
  return isEnvelope(value) ? value : null;
}

/** True when `value` has the shape of an {@link Envelope}. */
export function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    e.v === PROTOCOL_VERSION &&
    typeof e.id === 'string' &&
    typeof e.tab === 'string' &&
    typeof e.reg === 'string' &&
    typeof e.seq === 'number' &&
    Number.isSafeInteger(e.seq) &&
    e.seq >= 1 &&
    typeof e.type === 'string' &&
    ENVELOPE_TYPES.has(e.type)
  );
}

/** `GET .../config` response. */
export interface ConfigResponse {
  /** VAPID public key, base64url (uncompressed P-256 point), for `pushManager.subscribe`. */
  applicationServerKey: string;
  /** How long a registration lives without renewal. */
  registrationTtlMs: number;
  /** How often the link should renew (well inside the TTL). */
  renewIntervalMs: number;
  /** Largest plaintext the server puts in one push message; larger results go by reference. */
  maxPayloadBytes: number;
}

/** The JSON form of a browser `PushSubscription` (`PushSubscription.toJSON()`). */
export interface PushSubscriptionData {
  endpoint: string;
  expirationTime?: number | null;
  keys: { p256dh: string; auth: string };
}

/** `PUT .../subscriptions` response; the same id for the same endpoint and keys. */
export interface PutSubscriptionResponse {
  subscriptionId: string;
}

/** `extensions.webPush` of a `POST /graphql` that registers a subscription operation. */
export interface RegistrationRequestExtension {
  subscriptionId: string;
  tabId: string;
  /** The client's key for the operation (urql's `operation.key`), echoed in nothing but logs. */
  operationKey: string;
}

/** `extensions.webPush` of the JSON answer to a registration. */
export interface RegistrationAck {
  registrationId: string;
  /** Epoch milliseconds after which the registration is gone unless renewed. */
  expiresAt: number;
  /** Last `seq` already used (0 for a new registration): the tab expects `seq + 1` next. */
  seq: number;
}

/** `POST .../renew` body. */
export interface RenewRequest {
  tabId: string;
  /** When present and different, the tab's registrations move to this push subscription. */
  subscriptionId?: string;
  registrations: { registrationId: string; ackedSeq: number }[];
}

/** `POST .../renew` response. */
export interface RenewResponse {
  expiresAt: number;
  /** Registrations that no longer exist (expired, unregistered, endpoint gone). */
  gone: string[];
  /** Last `seq` the server used, per live registration: a tab behind it has a gap to fill. */
  seqs: Record<string, number>;
}

/** `GET .../messages?tabId=…&registrationId=…&after=SEQ` response. */
export interface MessagesResponse {
  /** Retained envelopes with `seq > after`, in order, payloads always inline. */
  envelopes: Envelope[];
  /** Last `seq` the server used for this registration. */
  lastSeq: number;
}

/** `POST .../unregister` body (also sent with `fetch(…, { keepalive: true })` on `pagehide`). */
export interface UnregisterRequest {
  tabId: string;
  registrationIds: string[];
}

/**
 * Codes in `extensions.code` of every error the plugin returns, with the HTTP status it uses.
 * A client can branch on the code; the message is for people.
 */
export const ErrorCode = {
  /** Malformed JSON, wrong types, missing fields. 400. */
  BadRequest: 'WEB_PUSH_BAD_REQUEST',
  /** A body, document or list over its limit. 413. */
  TooLarge: 'WEB_PUSH_TOO_LARGE',
  /** A query or mutation sent as a registration. 400. */
  NotASubscription: 'WEB_PUSH_NOT_A_SUBSCRIPTION',
  /** Push endpoint not on the allowlist of push-service origins. 400. */
  EndpointNotAllowed: 'WEB_PUSH_ENDPOINT_NOT_ALLOWED',
  /** A body that is not `application/json` on a registration or a state-changing route. 415. */
  UnsupportedMediaType: 'WEB_PUSH_UNSUPPORTED_MEDIA_TYPE',
  /** A cross-site request (`Origin`, `Sec-Fetch-Site`) from an origin the operator did not allow. 403. */
  ForbiddenOrigin: 'WEB_PUSH_FORBIDDEN_ORIGIN',
  /** Unknown push subscription id. 404. */
  UnknownSubscription: 'WEB_PUSH_UNKNOWN_SUBSCRIPTION',
  /** Unknown registration id, or one that is not this tab's. 404. */
  UnknownRegistration: 'WEB_PUSH_UNKNOWN_REGISTRATION',
  /** Too many registrations for this tab or this push subscription. 429. */
  TooManyRegistrations: 'WEB_PUSH_TOO_MANY_REGISTRATIONS',
  /** Unknown route under `/push/`. 404. */
  NotFound: 'WEB_PUSH_NOT_FOUND',
  /** Known route, wrong method. 405. */
  MethodNotAllowed: 'WEB_PUSH_METHOD_NOT_ALLOWED',
  /** The operator's auth check refused the renewal. 401. */
  Unauthenticated: 'WEB_PUSH_UNAUTHENTICATED',
  /** The store or another dependency failed. 503. */
  Unavailable: 'WEB_PUSH_UNAVAILABLE',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status of each {@link ErrorCode}. */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.TooLarge]: 413,
  [ErrorCode.NotASubscription]: 400,
  [ErrorCode.EndpointNotAllowed]: 400,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.ForbiddenOrigin]: 403,
  [ErrorCode.UnknownSubscription]: 404,
  [ErrorCode.UnknownRegistration]: 404,
  [ErrorCode.TooManyRegistrations]: 429,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.MethodNotAllowed]: 405,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.Unavailable]: 503,
};

/** Body of every refusal: the GraphQL-over-HTTP error shape. */
export interface ErrorResponse {
  errors: { message: string; extensions: { code: ErrorCode | string } }[];
}

/**
 * What the service worker posts to window clients. `source` tells our messages from the app's
 * own `postMessage` traffic.
 */
export type WorkerToClientMessage =
  | { source: typeof MESSAGE_SOURCE; kind: 'envelope'; envelope: Envelope }
  | {
      source: typeof MESSAGE_SOURCE;
      kind: 'subscriptionchange';
      subscription: PushSubscriptionData | null;
    };

/** Marks the service worker's messages to tabs. */
export const MESSAGE_SOURCE = 'graphql-web-push';

/**
 * Where push messages come from, for the link: a browser's `pushManager` + service worker, or
 * the Node user agent of `graphql-web-push/push-service`. Defined here so neither part imports
 * the other.
 */
export interface PushTransport {
  /**
   * The current push subscription for this VAPID key, subscribing when there is none.
   * Every tab of an origin gets the same subscription.
   */
  subscribe(applicationServerKey: string): Promise<PushSubscriptionData>;
  /**
   * Calls `listener` with every push message's data (an {@link Envelope} object, JSON text or
   * UTF-8 bytes; the link parses it). Returns a function that stops listening.
   */
  onMessage(listener: (data: unknown) => void): () => void;
  /** Calls `listener` when the push subscription was replaced. Optional. */
  onSubscriptionChange?(listener: () => void): () => void;
}
