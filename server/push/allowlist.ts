/**
 * Which push endpoints the server may POST to. Clients send the endpoint URL, so this is the
 * server's SSRF guard: known push services over https, plus exact origins the operator adds.
 * @packageDocumentation
 */
import { InvalidPushArgumentError } from './errors.js';

/** Longest endpoint accepted, in characters. */
export const MAX_ENDPOINT_LENGTH = 2048;

/**
 * Push services allowed by default: https on the default port only. `*.` stands for one or more
 * subdomain labels.
 */
export const DEFAULT_PUSH_SERVICES: readonly string[] = [
  'https://fcm.googleapis.com',
  'https://updates.push.services.mozilla.com',
  'https://*.push.apple.com',
  'https://*.notify.windows.com',
];

const EXACT_HOSTS: ReadonlySet<string> = new Set([
  'fcm.googleapis.com',
  'updates.push.services.mozilla.com',
]);
const HOST_SUFFIXES: readonly string[] = ['.push.apple.com', '.notify.windows.com'];

/** Options of {@link createEndpointPolicy}. */
export interface EndpointPolicyOptions {
  /**
   * Extra origins allowed exactly as written (scheme, host and port), http or https, e.g. the
   * local push service `http://127.0.0.1:8090` in development.
   * @defaultValue `[]`
   */
  allowedPushOrigins?: readonly string[];
}

/** Outcome of {@link EndpointPolicy.check}. */
export type EndpointCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Decides whether the server may send to a push endpoint. */
export interface EndpointPolicy {
  /**
   * Checks an endpoint a client sent.
   * @param endpoint - the `endpoint` of a `PushSubscription`
   * @returns the parsed URL, or why it is refused (safe to show to the client)
   */
  check(endpoint: string): EndpointCheck;
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
// Space and control characters: the URL parser would silently drop some of them.
function hasUnsafeCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return false;
}

function isIpLiteral(hostname: string): boolean {
  // The WHATWG parser has already rewritten decimal, octal and hex IPv4 forms to dotted quads.
  return hostname.startsWith('[') || IPV4.test(hostname);
}

function authorityOf(endpoint: string): string {
  const start = endpoint.indexOf('//');
  if (start < 0) return '';
  return endpoint.slice(start + 2).split(/[/\\?#]/, 1)[0] ?? '';
}

function normalizeOrigin(origin: string): string {
  const url = URL.canParse(origin) ? new URL(origin) : null;
  if (
    url === null ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.username !== '' ||
    url.password !== '' ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== ''
  ) {
    throw new InvalidPushArgumentError(
      `allowedPushOrigins: ${JSON.stringify(origin)} is not an http(s) origin (scheme://host[:port])`,
    );
  }
  return url.origin;
}

// One or more non-empty DNS labels (the URL parser has lowercased and punycoded them).
const SUBDOMAIN_LABELS = /^(?:[a-z0-9-]+\.)*[a-z0-9-]+$/;

function isKnownPushHost(hostname: string): boolean {
  if (EXACT_HOSTS.has(hostname)) return true;
  return HOST_SUFFIXES.some(
    (suffix) =>
      hostname.endsWith(suffix) && SUBDOMAIN_LABELS.test(hostname.slice(0, -suffix.length)),
  );
}

/**
 * Creates the endpoint allowlist.
 * @param options - origins to allow besides {@link DEFAULT_PUSH_SERVICES}
 * @returns the policy
 * @throws {@link InvalidPushArgumentError} when an added origin is not a plain http(s) origin
 * @remarks Refuses: endpoints over {@link MAX_ENDPOINT_LENGTH} characters, spaces or control
 * characters, user info (`user@host`), schemes other than https (http only for an added origin),
 * IP-address hosts and non-default ports unless the origin was added, and every other origin.
 * The sender never follows redirects, so an allowed origin cannot bounce a request elsewhere.
 */
export function createEndpointPolicy({
  allowedPushOrigins = [],
}: EndpointPolicyOptions = {}): EndpointPolicy {
  const added: ReadonlySet<string> = new Set(allowedPushOrigins.map(normalizeOrigin));
  const refuse = (reason: string): EndpointCheck => ({ ok: false, reason });

  return {
    check(endpoint) {
      if (typeof endpoint !== 'string') return refuse('endpoint must be a string');
      if (endpoint.length > MAX_ENDPOINT_LENGTH) {
        return refuse(`endpoint is longer than ${MAX_ENDPOINT_LENGTH} characters`);
      }
      if (hasUnsafeCharacters(endpoint)) {
        return refuse('endpoint contains spaces or control characters');
      }
      if (!URL.canParse(endpoint)) return refuse('endpoint is not a URL');
      const url = new URL(endpoint);
      if (url.username !== '' || url.password !== '' || authorityOf(endpoint).includes('@')) {
        return refuse('endpoint must not contain user info');
      }
      if (added.has(url.origin)) return { ok: true, url };
      if (url.protocol !== 'https:') return refuse('endpoint must use https');
      if (isIpLiteral(url.hostname)) return refuse('endpoint host must not be an IP address');
      if (url.port !== '') return refuse('endpoint must use the default https port');
      if (!isKnownPushHost(url.hostname)) {
        return refuse(`origin ${url.origin} is not an allowed push service`);
      }
      return { ok: true, url };
    },
  };
}
