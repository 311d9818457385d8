/**
 * Every request and response body of the plugin's routes, with the validators both sides use:
 * the server checks what it receives with the `parse…` functions (they throw a
 * {@link ProtocolError} with the refusal's code), the link checks what it receives with the
 * `is…` guards.
 */
import { decodeBase64Url } from './base64url.js';
import { type Envelope, isEnvelope } from './envelope.js';
import { createProtocolError, ErrorCode } from './errors.js';
import { isServerId, isTabId, MAX_ID_LENGTH } from './ids.js';
import { MAX_UNREGISTER_GRACE_MS } from './routes.js';

/** `GET …/config` response. */
export interface ConfigResponse {
  /** VAPID public key, base64url (uncompressed P-256 point), for `pushManager.subscribe`. */
  applicationServerKey: string;
  /** How long a registration lives without renewal. */
  registrationTtlMs: number;
  /** How often the link should renew (well inside the TTL). */
  renewIntervalMs: number;
  /** Largest plaintext the server puts in one push message; larger results go by reference. */
  maxPayloadBytes: number;
  /** How often an open stream carries a heartbeat; silence for much longer means it is dead. */
  streamHeartbeatMs: number;
}

/** The JSON form of a browser `PushSubscription` (`PushSubscription.toJSON()`). */
export interface PushSubscriptionData {
  endpoint: string;
  expirationTime?: number | null;
  keys: { p256dh: string; auth: string };
}

/** `PUT …/subscriptions` response; the same id for the same endpoint and keys. */
export interface PutSubscriptionResponse {
  subscriptionId: string;
}

/** `DELETE …/subscriptions` body: the browser gave up its push subscription. */
export interface DeleteSubscriptionRequest {
  subscriptionId: string;
}

/** `DELETE …/subscriptions` response. */
export interface DeleteSubscriptionResponse {
  /** False when the id was unknown (already gone). */
  deleted: boolean;
}

/** `extensions.webPush` of a `POST /graphql` that registers a subscription operation. */
export interface RegistrationRequestExtension {
  tabId: string;
  /** The client's key for the operation, echoed in nothing but logs. */
  operationKey: string;
  /**
   * The push subscription to deliver to. Absent: the tab reads its envelopes from
   * `GET …/stream` (no notification permission, or push not set up yet).
   */
  subscriptionId?: string;
  /**
   * Keep pushing while the tab is hidden (the app's service worker shows a notification for
   * it). Without it, a hidden tab's pushes are held: Chrome shows its own notification, and
   * Safari revokes the permission, when a push reaches a browser with no visible page.
   */
  background?: boolean;
}

/** `extensions.webPush` of the JSON answer to a registration. */
export interface RegistrationAck {
  registrationId: string;
  /** Epoch milliseconds after which the registration is gone unless renewed. */
  expiresAt: number;
  /** Last `seq` already used (0 for a new registration): the tab expects `seq + 1` next. */
  seq: number;
}

/** One registration in a renewal: its id and how far the tab has read. */
export interface RenewItem {
  registrationId: string;
  /** Every message up to this seq was handed to the app: the server may drop them. */
  ackedSeq: number;
}

/** `POST …/renew` body. */
export interface RenewRequest {
  tabId: string;
  registrations: RenewItem[];
  /**
   * True while the page is hidden: pushes of the tab's data-only registrations are held (logged,
   * not sent) until a renewal says `false`.
   */
  hidden?: boolean;
}

/** `POST …/renew` response. */
export interface RenewResponse {
  expiresAt: number;
  /** Registrations that no longer exist (expired, unregistered) or are not this tab's. */
  gone: string[];
  /** Last `seq` the server used, per live registration: a tab behind it has a gap to fill. */
  seqs: Record<string, number>;
  /**
   * Live registrations on no push subscription: the stream serves them. A tab that pushes finds
   * here the ones whose push subscription died (404/410 from the push service).
   */
  streamed: string[];
}

/** `POST …/move` body: puts registrations on a push subscription, or back on the stream. */
export interface MoveRequest {
  tabId: string;
  /** The push subscription to deliver to, or `null` for the stream. */
  subscriptionId: string | null;
  registrationIds: string[];
}

/** `POST …/move` response. */
export interface MoveResponse {
  /** The registrations now delivered where asked. */
  moved: string[];
  /** Ids that do not exist or are not this tab's. */
  gone: string[];
}

/** `GET …/messages` query. */
export interface MessagesQuery {
  tabId: string;
  registrationId: string;
  /** Envelopes with a larger seq are returned. */
  after: number;
}

/** `GET …/messages?tabId=…&registrationId=…&after=SEQ` response. */
export interface MessagesResponse {
  /** Retained envelopes with `seq > after`, in order, payloads always inline. */
  envelopes: Envelope[];
  /** Last `seq` the server used for this registration. */
  lastSeq: number;
}

/** `POST …/unregister` body (also sent with `fetch(…, { keepalive: true })` on `pagehide`). */
export interface UnregisterRequest {
  tabId: string;
  registrationIds: string[];
  /**
   * When set, the registrations expire after this many ms instead of at once (at most
   * {@link MAX_UNREGISTER_GRACE_MS}): a reload of the same tab renews them in time.
   */
  graceMs?: number;
}

/** `POST …/unregister` response. */
export interface UnregisterResponse {
  /** The tab's registrations this request removed (or, with `graceMs`, set to expire). */
  unregistered: string[];
}

// --- request validators (server side) ----------------------------------------------------------

const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;
/** Longest operation key accepted; urql's keys are numbers. */
const MAX_OPERATION_KEY_LENGTH = 256;
/** Longest push endpoint accepted. Real ones are 150–500 characters. */
export const MAX_ENDPOINT_LENGTH = 2048;

const bad = (message: string) => createProtocolError(ErrorCode.BadRequest, message);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function expectObject(value: unknown, what: string): Record<string, unknown> {
  if (!isObject(value)) throw bad(`${what} must be a JSON object`);
  return value;
}

function expectString(value: unknown, what: string, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0) throw bad(`${what} must be a string`);
  if (value.length > maxLength) throw bad(`${what} is too long`);
  return value;
}

function expectTabId(value: unknown): string {
  if (!isTabId(value)) throw bad('tabId must be a string of 16-128 URL-safe characters');
  return value;
}

function expectSeq(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad(`${what} must be a non-negative integer`);
  }
  return value;
}

function expectList(value: unknown, what: string, maxItems: number): unknown[] {
  if (!Array.isArray(value)) throw bad(`${what} must be an array`);
  if (value.length > maxItems) {
    throw createProtocolError(ErrorCode.TooLarge, `${what} has more than ${maxItems} items`);
  }
  return value;
}

function expectIdList(value: unknown, what: string, maxItems: number): string[] {
  return expectList(value, what, maxItems).map((id, index) =>
    expectString(id, `${what}[${index}]`, MAX_ID_LENGTH),
  );
}

function expectKey(value: unknown, what: string, bytes: number): string {
  const decoded =
    typeof value === 'string' && BASE64URL.test(value) ? decodeBase64Url(value) : null;
  if (!decoded) throw bad(`keys.${what} must be base64url`);
  if (decoded.length !== bytes) throw bad(`keys.${what} must encode ${bytes} bytes`);
  // p256dh is an uncompressed P-256 point (RFC 8291 section 3.1): 0x04 then X and Y.
  if (what === 'p256dh' && decoded[0] !== 0x04) {
    throw bad('keys.p256dh must be an uncompressed point');
  }
  return (value as string).replace(/=+$/, '');
}

/**
 * The one spelling of an endpoint URL, so that `HTTPS://FCM.GOOGLEAPIS.COM/…` and its lower-case
 * form are one subscription: the URL parser lower-cases scheme and host, drops a default port and
 * percent-encodes the same way for everyone. The path keeps its case (push services' ids do).
 * @param endpoint - the endpoint as a browser sent it
 * @returns the normalised URL
 * @throws WEB_PUSH_BAD_REQUEST when it is not a URL or too long
 */
export function normaliseEndpoint(endpoint: string): string {
  if (!URL.canParse(endpoint)) throw bad('endpoint must be a URL');
  const normalised = new URL(endpoint).href;
  if (normalised.length > MAX_ENDPOINT_LENGTH) throw bad('endpoint is too long');
  return normalised;
}

/**
 * Checks a `PUT …/subscriptions` body: a browser's `PushSubscription.toJSON()`.
 * @param value - the parsed JSON body
 * @returns a clean copy (no extra fields; the endpoint normalised by the URL parser; keys without
 * base64 padding)
 * @throws WEB_PUSH_BAD_REQUEST on missing fields, wrong types or keys of the wrong length
 * (`p256dh` 65 bytes starting with 0x04, `auth` 16 bytes). Whether `p256dh` is on the curve and
 * whether the endpoint's origin is allowed are the server's checks.
 */
export function parsePushSubscription(value: unknown): PushSubscriptionData {
  const body = expectObject(value, 'body');
  const endpoint = normaliseEndpoint(expectString(body.endpoint, 'endpoint', MAX_ENDPOINT_LENGTH));
  const keys = expectObject(body.keys, 'keys');
  const expirationTime = body.expirationTime;
  if (expirationTime !== undefined && expirationTime !== null) {
    if (typeof expirationTime !== 'number' || !Number.isFinite(expirationTime)) {
      throw bad('expirationTime must be a number or null');
    }
  }
  return {
    endpoint,
    expirationTime: expirationTime ?? null,
    keys: { p256dh: expectKey(keys.p256dh, 'p256dh', 65), auth: expectKey(keys.auth, 'auth', 16) },
  };
}

/**
 * Checks a `DELETE …/subscriptions` body.
 * @param value - the parsed JSON body
 * @returns the request
 * @throws WEB_PUSH_BAD_REQUEST on a wrong shape
 */
export function parseDeleteSubscriptionRequest(value: unknown): DeleteSubscriptionRequest {
  const body = expectObject(value, 'body');
  return { subscriptionId: expectString(body.subscriptionId, 'subscriptionId', MAX_ID_LENGTH) };
}

/**
 * Checks `extensions.webPush` of a registering GraphQL request.
 * @param value - the extension as sent
 * @returns the extension with checked types
 * @throws WEB_PUSH_BAD_REQUEST when it is not an object with a valid tab id and operation key
 * (and, when present, a string `subscriptionId` and a boolean `background`)
 */
export function parseRegistrationExtension(value: unknown): RegistrationRequestExtension {
  const extension = expectObject(value, 'extensions.webPush');
  const parsed: RegistrationRequestExtension = {
    tabId: expectTabId(extension.tabId),
    operationKey: expectString(
      typeof extension.operationKey === 'number'
        ? String(extension.operationKey)
        : extension.operationKey,
      'extensions.webPush.operationKey',
      MAX_OPERATION_KEY_LENGTH,
    ),
  };
  if (extension.subscriptionId !== undefined && extension.subscriptionId !== null) {
    parsed.subscriptionId = expectString(
      extension.subscriptionId,
      'extensions.webPush.subscriptionId',
      MAX_ID_LENGTH,
    );
  }
  if (extension.background !== undefined) {
    if (typeof extension.background !== 'boolean') {
      throw bad('extensions.webPush.background must be a boolean');
    }
    if (extension.background) parsed.background = true;
  }
  return parsed;
}

/**
 * Checks a `POST …/renew` body.
 * @param value - the parsed JSON body
 * @param maxItems - most registrations one request may list
 * @returns the request with checked types
 * @throws WEB_PUSH_BAD_REQUEST on wrong shapes; WEB_PUSH_TOO_LARGE when the list is too long
 */
export function parseRenewRequest(value: unknown, maxItems: number): RenewRequest {
  const body = expectObject(value, 'body');
  const tabId = expectTabId(body.tabId);
  const registrations = expectList(body.registrations, 'registrations', maxItems).map(
    (item, index) => {
      const entry = expectObject(item, `registrations[${index}]`);
      return {
        registrationId: expectString(
          entry.registrationId,
          `registrations[${index}].registrationId`,
          MAX_ID_LENGTH,
        ),
        ackedSeq: expectSeq(entry.ackedSeq, `registrations[${index}].ackedSeq`),
      };
    },
  );
  if (body.hidden !== undefined && typeof body.hidden !== 'boolean') {
    throw bad('hidden must be a boolean');
  }
  return body.hidden === undefined
    ? { tabId, registrations }
    : { tabId, registrations, hidden: body.hidden };
}

/**
 * Checks a `POST …/move` body.
 * @param value - the parsed JSON body
 * @param maxItems - most registrations one request may list
 * @returns the request with checked types
 * @throws WEB_PUSH_BAD_REQUEST on wrong shapes; WEB_PUSH_TOO_LARGE when the list is too long
 */
export function parseMoveRequest(value: unknown, maxItems: number): MoveRequest {
  const body = expectObject(value, 'body');
  const tabId = expectTabId(body.tabId);
  if (body.subscriptionId === undefined) throw bad('subscriptionId must be a string or null');
  const subscriptionId =
    body.subscriptionId === null
      ? null
      : expectString(body.subscriptionId, 'subscriptionId', MAX_ID_LENGTH);
  const registrationIds = expectIdList(body.registrationIds, 'registrationIds', maxItems);
  return { tabId, subscriptionId, registrationIds };
}

/**
 * Checks a `POST …/unregister` body.
 * @param value - the parsed JSON body
 * @param maxItems - most registrations one request may list
 * @returns the request with checked types
 * @throws WEB_PUSH_BAD_REQUEST on wrong shapes or a grace over {@link MAX_UNREGISTER_GRACE_MS};
 * WEB_PUSH_TOO_LARGE when the list is too long
 */
export function parseUnregisterRequest(value: unknown, maxItems: number): UnregisterRequest {
  const body = expectObject(value, 'body');
  const tabId = expectTabId(body.tabId);
  const registrationIds = expectIdList(body.registrationIds, 'registrationIds', maxItems);
  if (body.graceMs === undefined || body.graceMs === null) return { tabId, registrationIds };
  const graceMs = expectSeq(body.graceMs, 'graceMs');
  if (graceMs > MAX_UNREGISTER_GRACE_MS) {
    throw bad(`graceMs must be at most ${MAX_UNREGISTER_GRACE_MS}`);
  }
  return { tabId, registrationIds, graceMs };
}

const SEQ_TEXT = /^\d{1,15}$/;

/**
 * Checks the query of `GET …/messages`.
 * @param params - the URL's search parameters
 * @returns tab id, registration id and the seq to read after (0 when absent)
 * @throws WEB_PUSH_BAD_REQUEST on missing or malformed parameters
 */
export function parseMessagesQuery(params: URLSearchParams): MessagesQuery {
  const tabId = expectTabId(params.get('tabId'));
  const registrationId = expectString(
    params.get('registrationId') ?? undefined,
    'registrationId',
    MAX_ID_LENGTH,
  );
  const afterText = params.get('after');
  let after = 0;
  if (afterText !== null) {
    if (!SEQ_TEXT.test(afterText)) throw bad('after must be a non-negative integer');
    after = Number(afterText);
  }
  return { tabId, registrationId, after };
}

// --- response validators (link side) ------------------------------------------------------------

const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

const isSeqRecord = (value: unknown): value is Record<string, number> =>
  isObject(value) && Object.values(value).every((seq) => Number.isSafeInteger(seq));

/** Guards a `GET …/config` answer. */
export const isConfigResponse = (v: unknown): v is ConfigResponse =>
  isObject(v) &&
  typeof v.applicationServerKey === 'string' &&
  typeof v.registrationTtlMs === 'number' &&
  typeof v.renewIntervalMs === 'number' &&
  typeof v.maxPayloadBytes === 'number' &&
  typeof v.streamHeartbeatMs === 'number';

/** Guards a `PUT …/subscriptions` answer. */
export const isPutSubscriptionResponse = (v: unknown): v is PutSubscriptionResponse =>
  isObject(v) && isServerId(v.subscriptionId);

/** Guards `extensions.webPush` of a registration's answer. */
export const isRegistrationAck = (v: unknown): v is RegistrationAck =>
  isObject(v) &&
  isServerId(v.registrationId) &&
  typeof v.expiresAt === 'number' &&
  Number.isSafeInteger(v.seq);

/** Guards a `POST …/renew` answer. */
export const isRenewResponse = (v: unknown): v is RenewResponse =>
  isObject(v) &&
  typeof v.expiresAt === 'number' &&
  isStringList(v.gone) &&
  isSeqRecord(v.seqs) &&
  isStringList(v.streamed);

/** Guards a `POST …/move` answer. */
export const isMoveResponse = (v: unknown): v is MoveResponse =>
  isObject(v) && isStringList(v.moved) && isStringList(v.gone);

/** Guards a `GET …/messages` answer. */
export const isMessagesResponse = (v: unknown): v is MessagesResponse =>
  isObject(v) &&
  Number.isSafeInteger(v.lastSeq) &&
  Array.isArray(v.envelopes) &&
  v.envelopes.every((e: unknown) => isEnvelope(e));

/** Guards a `DELETE …/subscriptions` answer. */
export const isDeleteSubscriptionResponse = (v: unknown): v is DeleteSubscriptionResponse =>
  isObject(v) && typeof v.deleted === 'boolean';

/** Guards a `POST …/unregister` answer. */
export const isUnregisterResponse = (v: unknown): v is UnregisterResponse =>
  isObject(v) && isStringList(v.unregistered);
