import { ErrorCode } from '../protocol/index.js';
import { createWebPushError } from './errors.js';

/** Options of {@link createRequestGuard}. */
export interface RequestGuardOptions {
  /**
   * Origins besides the request's own that may register and change state (an app on another
   * origin than its API). Each is normalised with the URL parser.
   */
  allowedOrigins: readonly string[];
}

/** Checks that a state-changing request is JSON and comes from an allowed origin. */
export interface RequestGuard {
  /**
   * @param request - a registration or a `PUT`/`POST` of a `…/push/*` route
   * @throws WEB_PUSH_UNSUPPORTED_MEDIA_TYPE (415) unless the body is `application/json`;
   * WEB_PUSH_FORBIDDEN_ORIGIN (403) for a cross-site request from an origin not allowed
   */
  check(request: Request): void;
  /** True when `request` comes from its own origin or an allowed one (or from no browser). */
  originAllowed(request: Request): boolean;
}

/**
 * The media type of a `Content-Type` header, lower case, without parameters.
 * @param request - any request
 * @returns e.g. `application/json`, or `''` when absent
 */
export function mediaTypeOf(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Normalises an origin with the URL parser (`HTTPS://Shop.Example:443` → `https://shop.example`).
 * @param origin - an origin or a URL
 * @returns the origin
 * @throws RangeError when it is not an http(s) URL
 */
export function normaliseOrigin(origin: string): string {
  const url = URL.canParse(origin) ? new URL(origin) : null;
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new RangeError(`not an http(s) origin: ${origin}`);
  }
  return url.origin;
}

/**
 * Creates the guard against cross-site registration (CSRF) and simple-request bodies.
 *
 * @param options - the extra origins allowed; see {@link RequestGuardOptions}
 * @returns the guard
 * @remarks A page on another site can submit a form (`application/x-www-form-urlencoded`,
 * `multipart/form-data`, `text/plain`) to our routes without a CORS preflight, and the browser
 * attaches the victim's cookies: registered that way, the victim's results would be pushed to the
 * attacker's browser. Two independent checks stop it:
 * - only `application/json` bodies are accepted, a type no simple request can have;
 * - a browser's `Origin` (or, without one, `Sec-Fetch-Site`) must name this origin or an allowed
 *   one. "This origin" is the request URL's origin, or an `Origin` whose host is the request's
 *   `Host` header (a TLS-terminating proxy keeps `Host` but talks plain HTTP to us). Behind a
 *   proxy that rewrites `Host`, list the public origin in `allowedOrigins`.
 * Requests without `Origin` and `Sec-Fetch-Site` come from no browser (servers, scripts, tests)
 * and cannot carry a victim's cookies without being the victim's own code.
 */
export function createRequestGuard({ allowedOrigins }: RequestGuardOptions): RequestGuard {
  const allowed = new Set(allowedOrigins.map(normaliseOrigin));

  const ownOrigin = (origin: URL, request: Request): boolean => {
    if (URL.canParse(request.url) && new URL(request.url).origin === origin.origin) return true;
    const host = request.headers.get('host');
    return host !== null && host.toLowerCase() === origin.host;
  };

  const originAllowed = (request: Request): boolean => {
    const origin = request.headers.get('origin');
    if (origin === null) {
      // No Origin: a browser that sends Sec-Fetch-Site still tells a cross-site request apart.
      const site = request.headers.get('sec-fetch-site');
      return site === null || site === 'same-origin' || site === 'none';
    }
    // `null` is an opaque origin (sandboxed frame, data: URL): never ours.
    const url = origin !== 'null' && URL.canParse(origin) ? new URL(origin) : null;
    if (!url) return false;
    return ownOrigin(url, request) || allowed.has(url.origin);
  };

  return {
    originAllowed,
    check(request) {
      if (mediaTypeOf(request) !== 'application/json') {
        throw createWebPushError(
          ErrorCode.UnsupportedMediaType,
          'Content-Type must be application/json',
        );
      }
      if (!originAllowed(request)) {
        throw createWebPushError(
          ErrorCode.ForbiddenOrigin,
          'Cross-site request refused: this origin is not allowed',
        );
      }
    },
  };
}
