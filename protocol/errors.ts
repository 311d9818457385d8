/**
 * Error codes of the protocol, their HTTP statuses, and the error thrown by the validators.
 */

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
  /** A stream asked for by a tab that has no registration. 404. */
  UnknownTab: 'WEB_PUSH_UNKNOWN_TAB',
  /** Too many registrations for this tab, this push subscription, or this client. 429. */
  TooManyRegistrations: 'WEB_PUSH_TOO_MANY_REGISTRATIONS',
  /** Too many push subscriptions for this client (the operator's `clientKey`). 429. */
  TooManySubscriptions: 'WEB_PUSH_TOO_MANY_SUBSCRIPTIONS',
  /** Unknown route under `/push/`. 404. */
  NotFound: 'WEB_PUSH_NOT_FOUND',
  /** Known route, wrong method. 405. */
  MethodNotAllowed: 'WEB_PUSH_METHOD_NOT_ALLOWED',
  /** The operator's auth check refused the renewal. 401. */
  Unauthenticated: 'WEB_PUSH_UNAUTHENTICATED',
  /**
   * The server is at one of its capacities (streams, registrations, push subscriptions); retry
   * after `Retry-After`. 503.
   */
  OverCapacity: 'WEB_PUSH_OVER_CAPACITY',
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
  [ErrorCode.UnknownTab]: 404,
  [ErrorCode.TooManyRegistrations]: 429,
  [ErrorCode.TooManySubscriptions]: 429,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.MethodNotAllowed]: 405,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.OverCapacity]: 503,
  [ErrorCode.Unavailable]: 503,
};

/** Body of every refusal: the GraphQL-over-HTTP error shape. */
export interface ErrorResponse {
  errors: { message: string; extensions: { code: ErrorCode | string } }[];
}

/** What a protocol validator throws: a refusal with its code. */
export interface ProtocolError extends Error {
  name: 'ProtocolError';
  code: ErrorCode;
}

/**
 * Creates a {@link ProtocolError}.
 * @param code - the refusal's code
 * @param message - text for people; never contains secrets
 * @returns the error
 */
export function createProtocolError(code: ErrorCode, message: string): ProtocolError {
  const error = new Error(message) as ProtocolError;
  error.name = 'ProtocolError';
  error.code = code;
  return error;
}

/**
 * Tells a {@link ProtocolError} from anything else thrown.
 * @param value - anything caught
 * @returns true for errors made by {@link createProtocolError}
 */
export function isProtocolError(value: unknown): value is ProtocolError {
  return (
    value instanceof Error &&
    value.name === 'ProtocolError' &&
    typeof (value as unknown as { code?: unknown }).code === 'string' &&
    (value as unknown as { code: string }).code in ERROR_STATUS
  );
}

/**
 * Code of the result the link emits when continuity was lost and the subscription was
 * re-established: events between the last one the app got and the first after it may be missing.
 * It arrives in `extensions.webPush` of a result without `data`; apps refetch what they show.
 */
export const RESYNC_CODE = 'WEB_PUSH_RESYNC';

/** Why continuity was lost. */
export type ResyncReason =
  /** The registration was gone on the server (expired while the page was away or frozen). */
  | 'registration-gone'
  /** The server's log no longer had the messages in a gap (retention or count passed). */
  | 'messages-expired';

/** `extensions.webPush` of a resync result. */
export interface ResyncNotice {
  code: typeof RESYNC_CODE;
  reason: ResyncReason;
}
