/**
 * Push endpoints parsed once into what a request needs, and cached.
 * @packageDocumentation
 */
import { InvalidPushArgumentError } from './errors.js';
import { createLru } from './lru.js';

/** A push endpoint taken apart for the HTTP client. */
export interface PushEndpoint {
  /** `https://host[:port]`: the concurrency lane, the VAPID `aud` and the connection key. */
  readonly origin: string;
  readonly secure: boolean;
  /** Without IPv6 brackets, as `net`/`tls` want it. */
  readonly hostname: string;
  /** The explicit port, or the scheme's default. */
  readonly port: number;
  /** Path and query. */
  readonly path: string;
}

/**
 * Parses a push endpoint URL.
 * @param endpoint - the subscription's endpoint
 * @returns the parts a request needs
 * @throws {@link InvalidPushArgumentError} when it is not an http(s) URL
 */
export function parsePushEndpoint(endpoint: string): PushEndpoint {
  const url = URL.canParse(endpoint) ? new URL(endpoint) : null;
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new InvalidPushArgumentError('push endpoint must be an http(s) URL');
  }
  const secure = url.protocol === 'https:';
  return {
    origin: url.origin,
    secure,
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    path: `${url.pathname}${url.search}`,
  };
}

/** Parsed endpoints by their text, bounded. */
export interface PushEndpointCache {
  /**
   * The parsed endpoint, parsing it on first use.
   * @param endpoint - the subscription's endpoint
   * @returns the parts a request needs
   * @throws {@link InvalidPushArgumentError} when it is not an http(s) URL (not cached)
   */
  get(endpoint: string): PushEndpoint;
}

/**
 * Creates a bounded LRU cache of parsed endpoints: a fan-out sends to the same endpoints on
 * every event, and a `URL` per message is garbage the collector has to chase.
 * @param maxEntries - most endpoints kept
 * @returns the cache
 */
export function createPushEndpointCache(maxEntries: number): PushEndpointCache {
  const entries = createLru<PushEndpoint>(maxEntries);
  return {
    get(endpoint) {
      let parsed = entries.get(endpoint);
      if (parsed === undefined) {
        parsed = parsePushEndpoint(endpoint);
        entries.set(endpoint, parsed);
      }
      return parsed;
    },
  };
}
