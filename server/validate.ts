import {
  ErrorCode,
  type PushSubscriptionData,
  type RegistrationRequestExtension,
  type RenewRequest,
} from '../protocol/index.js';
import { createWebPushError } from './errors.js';
import { isTabId } from './ids.js';
import { MAX_ENDPOINT_LENGTH, parseSubscriptionKeys } from './push/index.js';

/** `POST …/unregister` body as the server accepts it: the protocol's fields plus `graceMs`. */
export interface UnregisterBody {
  tabId: string;
  registrationIds: string[];
  /** When set, the registrations expire after this many ms instead of at once (≤ 60 s). */
  graceMs?: number;
}

/** Longest grace an unregister may ask for: long enough for a reload, short enough to be bounded. */
export const MAX_UNREGISTER_GRACE_MS = 60_000;

const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;
/** Longest operation key accepted; urql's keys are numbers. */
const MAX_OPERATION_KEY_LENGTH = 256;
/** Longest id string looked up; longer ones cannot be ours. */
const MAX_ID_LENGTH = 256;

const bad = (message: string) => createWebPushError(ErrorCode.BadRequest, message);

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

function expectIdList(value: unknown, what: string, maxItems: number): string[] {
  if (!Array.isArray(value)) throw bad(`${what} must be an array`);
  if (value.length > maxItems) {
    throw createWebPushError(ErrorCode.TooLarge, `${what} has more than ${maxItems} items`);
  }
  return value.map((id, index) => expectString(id, `${what}[${index}]`, MAX_ID_LENGTH));
}

function expectKey(value: unknown, what: string, bytes: number): string {
  if (typeof value !== 'string' || !BASE64URL.test(value)) {
    throw bad(`keys.${what} must be base64url`);
  }
  const decoded = Buffer.from(value, 'base64url');
  if (decoded.length !== bytes) throw bad(`keys.${what} must encode ${bytes} bytes`);
  // p256dh is an uncompressed P-256 point (RFC 8291 section 3.1): 0x04 then X and Y.
  if (what === 'p256dh' && decoded[0] !== 0x04)
    throw bad('keys.p256dh must be an uncompressed point');
  return value.replace(/=+$/, '');
}

/**
 * The one spelling of an endpoint URL, so that `HTTPS://FCM.GOOGLEAPIS.COM/…` and its lower-case
 * form are one subscription: the URL parser lower-cases scheme and host, drops a default port and
 * percent-encodes the same way for everyone. The path keeps its case (push services' ids do).
 * @param endpoint - the endpoint as a browser sent it
 * @returns the normalised URL
 * @throws WEB_PUSH_BAD_REQUEST when it is not a URL
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
 * (`p256dh` a 65-byte point on P-256, `auth` 16 bytes). The endpoint's origin is checked
 * elsewhere.
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
  const checked = {
    p256dh: expectKey(keys.p256dh, 'p256dh', 65),
    auth: expectKey(keys.auth, 'auth', 16),
  };
  try {
    // Refuse now what encryption would refuse on every message later.
    parseSubscriptionKeys(checked);
  } catch {
    throw bad('keys.p256dh is not a point on P-256');
  }
  return { endpoint, expirationTime: expirationTime ?? null, keys: checked };
}

/**
 * Checks `extensions.webPush` of a registering GraphQL request.
 * @param value - the extension as sent
 * @returns the extension with checked types
 * @throws WEB_PUSH_BAD_REQUEST when it is not an object of three strings with a valid tab id
 */
export function parseRegistrationExtension(value: unknown): RegistrationRequestExtension {
  const extension = expectObject(value, 'extensions.webPush');
  return {
    subscriptionId: expectString(
      extension.subscriptionId,
      'extensions.webPush.subscriptionId',
      MAX_ID_LENGTH,
    ),
    tabId: expectTabId(extension.tabId),
    operationKey: expectString(
      typeof extension.operationKey === 'number'
        ? String(extension.operationKey)
        : extension.operationKey,
      'extensions.webPush.operationKey',
      MAX_OPERATION_KEY_LENGTH,
    ),
  };
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
  const subscriptionId =
    body.subscriptionId === undefined || body.subscriptionId === null
      ? undefined
      : expectString(body.subscriptionId, 'subscriptionId', MAX_ID_LENGTH);
  if (!Array.isArray(body.registrations)) throw bad('registrations must be an array');
  if (body.registrations.length > maxItems) {
    throw createWebPushError(ErrorCode.TooLarge, `registrations has more than ${maxItems} items`);
  }
  const registrations = body.registrations.map((item, index) => {
    const entry = expectObject(item, `registrations[${index}]`);
    return {
      registrationId: expectString(
        entry.registrationId,
        `registrations[${index}].registrationId`,
        MAX_ID_LENGTH,
      ),
      ackedSeq: expectSeq(entry.ackedSeq, `registrations[${index}].ackedSeq`),
    };
  });
  return subscriptionId === undefined
    ? { tabId, registrations }
    : { tabId, subscriptionId, registrations };
}

/**
 * Checks a `POST …/unregister` body.
 * @param value - the parsed JSON body
 * @param maxItems - most registrations one request may list
 * @returns the request with checked types
 * @throws WEB_PUSH_BAD_REQUEST on wrong shapes or a grace over {@link MAX_UNREGISTER_GRACE_MS};
 * WEB_PUSH_TOO_LARGE when the list is too long
 */
export function parseUnregisterRequest(value: unknown, maxItems: number): UnregisterBody {
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

/**
 * Checks the query of `GET …/messages`.
 * @param params - the URL's search parameters
 * @returns tab id, registration id and the seq to read after (0 when absent)
 * @throws WEB_PUSH_BAD_REQUEST on missing or malformed parameters
 */
export function parseMessagesQuery(params: URLSearchParams): {
  tabId: string;
  registrationId: string;
  after: number;
} {
  const tabId = expectTabId(params.get('tabId'));
  const registrationId = expectString(
    params.get('registrationId') ?? undefined,
    'registrationId',
    MAX_ID_LENGTH,
  );
  const afterText = params.get('after');
  let after = 0;
  if (afterText !== null) {
    if (!/^\d{1,15}$/.test(afterText)) throw bad('after must be a non-negative integer');
    after = Number(afterText);
  }
  return { tabId, registrationId, after };
}

/** Limits on a registration's variables. */
export interface VariablesLimits {
  /** Most UTF-8 bytes of the variables as JSON. */
  maxBytes: number;
  /** Deepest nesting of objects and arrays (`{}` is 1). */
  maxDepth: number;
}

/**
 * How deeply `value` nests objects and arrays, counted without recursion so that a hostile
 * value cannot overflow the stack.
 * @param value - a parsed JSON value
 * @param stopAbove - counting stops once the depth exceeds this
 * @returns the depth (0 for a scalar), or a number above `stopAbove`
 */
export function jsonDepth(value: unknown, stopAbove: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > deepest) deepest = depth;
    if (deepest > stopAbove) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

/**
 * Checks a registration's variables, which are stored with it and replayed on adoption.
 * @param variables - the request's variables (anything)
 * @param limits - see {@link VariablesLimits}
 * @returns the variables, `null` when absent
 * @throws WEB_PUSH_BAD_REQUEST (400) when they are not an object or nest deeper than
 * `maxDepth`; WEB_PUSH_TOO_LARGE (413) when their JSON is over `maxBytes`
 */
export function checkVariables(
  variables: unknown,
  limits: VariablesLimits,
): Record<string, unknown> | null {
  if (variables === undefined || variables === null) return null;
  if (!isObject(variables)) throw bad('variables must be a JSON object');
  if (jsonDepth(variables, limits.maxDepth) > limits.maxDepth) {
    throw bad(`variables nest deeper than ${limits.maxDepth} levels`);
  }
  if (Buffer.byteLength(JSON.stringify(variables), 'utf8') > limits.maxBytes) {
    throw createWebPushError(
      ErrorCode.TooLarge,
      `variables are larger than ${limits.maxBytes} bytes`,
    );
  }
  return variables;
}
