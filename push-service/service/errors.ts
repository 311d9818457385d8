/**
 * Named refusals of the push service. Every non-2xx answer to an application server carries
 * `{ code, error, message }` as JSON, where `error` is one of {@link PushErrorCode}.
 */

/** Why the push service refused a request from an application server. */
export const PushErrorCode = {
  /** No `TTL` header. 400. */
  MissingTtl: 'MISSING_TTL',
  /** `TTL` is not a non-negative integer. 400. */
  InvalidTtl: 'INVALID_TTL',
  /** `Urgency` is not very-low, low, normal or high. 400. */
  InvalidUrgency: 'INVALID_URGENCY',
  /** `Topic` is not 1–32 base64url characters. 400. */
  InvalidTopic: 'INVALID_TOPIC',
  /** A body without `Content-Encoding: aes128gcm`. 415. */
  UnsupportedEncoding: 'UNSUPPORTED_ENCODING',
  /** No `Authorization` header, for a subscription made with an applicationServerKey. 401. */
  MissingAuthorization: 'MISSING_AUTHORIZATION',
  /** `Authorization` is not `vapid t=<JWT>, k=<key>`, or the JWT or key cannot be parsed. 401. */
  MalformedAuthorization: 'MALFORMED_AUTHORIZATION',
  /** The JWT's ES256 signature does not verify with `k`. 401. */
  InvalidSignature: 'INVALID_SIGNATURE',
  /** `k` is not the applicationServerKey the subscription was made with. 403. */
  KeyMismatch: 'KEY_MISMATCH',
  /** The JWT's `aud` is not this push service's origin. 403. */
  InvalidAudience: 'INVALID_AUDIENCE',
  /** The JWT's `exp` is missing, past, or more than 24 hours ahead. 403. */
  InvalidExpiry: 'INVALID_EXPIRY',
  /** The body is larger than `maxMessageBytes`. 413. */
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  /** No subscription with this channel id. 404. */
  UnknownChannel: 'UNKNOWN_CHANNEL',
  /** The subscription was unsubscribed. 410. */
  ChannelGone: 'CHANNEL_GONE',
  /** No message with this id (acknowledged, expired, replaced or never stored). 404. */
  UnknownMessage: 'UNKNOWN_MESSAGE',
  /** No such route. 404. */
  NotFound: 'NOT_FOUND',
  /** Known route, wrong method. 405. */
  MethodNotAllowed: 'METHOD_NOT_ALLOWED',
  /** Injected fault: too many requests; see `Retry-After`. 429. */
  RateLimited: 'RATE_LIMITED',
  /** Injected fault. 500. */
  InternalError: 'INTERNAL_ERROR',
  /** Injected fault. 503. */
  Unavailable: 'UNAVAILABLE',
} as const;

export type PushErrorCode = (typeof PushErrorCode)[keyof typeof PushErrorCode];

/** JSON body of every refusal. */
export interface PushErrorBody {
  /** The HTTP status, repeated. */
  code: number;
  error: PushErrorCode;
  message: string;
}

/**
 * Close codes the push service uses on user-agent sockets. Browsers reconnect after any of them.
 */
export const PushCloseCode = {
  /**
   * The user agent was dropped for too many pending messages (autopush closes with 1000 then
   * too); its next hello gets a new uaid.
   */
  UserAgentDropped: 1000,
  /** The service is shutting down. */
  GoingAway: 1001,
  /** A frame that is not JSON, not a known message, or malformed. */
  BadFrame: 4400,
  /** A frame other than `hello` before the handshake, or a second `hello`. */
  HelloRequired: 4401,
  /** Another socket said `hello` with the same uaid; the newest wins. */
  Replaced: 4409,
  /** Injected fault: `disconnectEvery`. */
  InjectedDisconnect: 4503,
} as const;

export type PushCloseCode = (typeof PushCloseCode)[keyof typeof PushCloseCode];
