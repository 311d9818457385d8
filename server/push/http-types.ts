/**
 * What the push HTTP client's parts pass each other.
 * @packageDocumentation
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { PushEndpoint } from './endpoint.js';

/** One POST of a push message (RFC 8030 section 5). */
export interface PushRequest {
  readonly endpoint: PushEndpoint;
  /** `vapid t=…, k=…` (RFC 8292). */
  readonly authorization: string;
  /** `TTL`, seconds. */
  readonly ttlSeconds: number;
  /** `Urgency`, when set. */
  readonly urgency: string | undefined;
  /** `Topic`, when set. */
  readonly topic: string | undefined;
  /** The `aes128gcm` body. */
  readonly body: Uint8Array;
}

/**
 * Hears how each request ended: exactly one call per request, never before the call that sent
 * it returned. One listener serves every request (the request itself says which one), so a
 * request costs no promise and no closure of its own: a fan-out sends thousands at once.
 */
export interface PushAnswerListener<R extends PushRequest> {
  /**
   * The push service answered. The body is read and discarded.
   * @param request - the request
   * @param status - the status; a 3xx is an answer like any other, never followed
   * @param retryAfter - the `Retry-After` header, if any
   */
  answered(request: R, status: number, retryAfter: string | undefined): void;
  /**
   * No answer came.
   * @param request - the request
   * @param error - `PushRequestError` `PUSH_TIMEOUT` or `PUSH_NETWORK`, the error given to
   * `close`, or `NotHttp2Error` from the HTTP/2 transport
   */
  failed(request: R, error: Error): void;
}

/** The connections to one origin over one protocol. */
export interface OriginTransport {
  /**
   * Sends one request now (the caller has already waited for a slot).
   * @param request - the request
   * @param listener - hears its answer or failure
   */
  request<R extends PushRequest>(request: R, listener: PushAnswerListener<R>): void;
  /** Destroys every connection; requests in flight fail with `error`. */
  close(error: Error): void;
}

/** Push services answer with a few bytes; anything far larger is not worth reading. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * The first value of a header that may repeat.
 * @param value - as Node gives it
 * @returns the first value, or `undefined`
 */
export function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Builds the request headers of a push message.
 * @param request - the message
 * @param into - headers to add to (HTTP/2 passes its pseudo-headers), so one object is built
 * @returns `into`, with the headers lowercase (as HTTP/2 requires; HTTP/1.1 does not mind)
 */
export function pushHeaders(
  request: PushRequest,
  into: OutgoingHttpHeaders = {},
): OutgoingHttpHeaders {
  into['content-encoding'] = 'aes128gcm';
  into['content-type'] = 'application/octet-stream';
  into['content-length'] = request.body.byteLength;
  into.ttl = request.ttlSeconds;
  into.authorization = request.authorization;
  if (request.urgency !== undefined) into.urgency = request.urgency;
  if (request.topic !== undefined) into.topic = request.topic;
  return into;
}
