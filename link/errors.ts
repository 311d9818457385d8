/** Codes of the errors the link reports in `CombinedError.networkError` and debug snapshots. */
export const LinkErrorCode = {
  /** `fetch` itself failed: offline, DNS, CORS, aborted. */
  Network: 'WEB_PUSH_LINK_NETWORK',
  /** The server answered with a non-2xx status and no GraphQL errors to show instead. */
  Http: 'WEB_PUSH_LINK_HTTP',
  /** The server answered 2xx with a body that is not what the protocol says. */
  BadResponse: 'WEB_PUSH_LINK_BAD_RESPONSE',
  /** The push transport could not subscribe for another reason (no active service worker, …). */
  SubscribeFailed: 'WEB_PUSH_LINK_SUBSCRIBE_FAILED',
  /** `pushManager.subscribe()` did not settle in time (browsers may never settle it). */
  SubscribeTimeout: 'WEB_PUSH_LINK_SUBSCRIBE_TIMEOUT',
  /** The environment has no service worker or Push API (or no push transport was given). */
  Unsupported: 'WEB_PUSH_LINK_UNSUPPORTED',
  /** Notifications are neither granted nor denied: push waits for `enablePush()` from a click. */
  PermissionDefault: 'WEB_PUSH_LINK_PERMISSION_DEFAULT',
  /** The person (or the browser's settings) denied notifications: push is not possible. */
  PermissionDenied: 'WEB_PUSH_LINK_PERMISSION_DENIED',
  /** The browser's push service could not be reached (offline, blocked, or it refused). */
  PushServiceUnreachable: 'WEB_PUSH_LINK_PUSH_SERVICE_UNREACHABLE',
  /** The server refused to deliver to the push subscription (its limits, an unknown one). */
  PushRefused: 'WEB_PUSH_LINK_PUSH_REFUSED',
  /** The exchange was disposed; it serves no new operations. */
  Disposed: 'WEB_PUSH_LINK_DISPOSED',
} as const;

/** One of {@link LinkErrorCode}. */
export type LinkErrorCode = (typeof LinkErrorCode)[keyof typeof LinkErrorCode];

/** An error raised by the link; `code` tells what failed, `message` is for people. */
export interface WebPushLinkError extends Error {
  name: 'WebPushLinkError';
  code: LinkErrorCode;
  /** HTTP status, when the server answered. */
  status?: number;
  /** `extensions.code` of the server's first error, when it sent one (see `ErrorCode`). */
  serverCode?: string;
}

/**
 * Creates a {@link WebPushLinkError}.
 * @param code - what failed.
 * @param message - a sentence for people.
 * @param details - HTTP status, server error code and the underlying cause, when known.
 * @returns the error, ready to be put in a result (never thrown into a stream).
 */
export function createLinkError(
  code: LinkErrorCode,
  message: string,
  details: { status?: number; serverCode?: string; cause?: unknown } = {},
): WebPushLinkError {
  const error = new Error(message, { cause: details.cause }) as WebPushLinkError;
  error.name = 'WebPushLinkError';
  error.code = code;
  if (details.status !== undefined) error.status = details.status;
  if (details.serverCode !== undefined) error.serverCode = details.serverCode;
  return error;
}

/**
 * Tells a {@link WebPushLinkError} from any other value.
 * @param value - anything caught or found in `CombinedError.networkError`.
 * @returns true when `value` was made by {@link createLinkError}.
 */
export function isLinkError(value: unknown): value is WebPushLinkError {
  return value instanceof Error && value.name === 'WebPushLinkError' && 'code' in value;
}

/** Either a value or the error that prevented it. */
export type LinkResult<T> = { ok: true; value: T } | { ok: false; error: WebPushLinkError };
