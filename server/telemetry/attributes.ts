/**
 * Attribute names and values, as OpenTelemetry's semantic conventions spell them.
 * @packageDocumentation
 */

/** Attribute values: strings and numbers only, so that every exporter takes them. */
export type TelemetryAttributes = Record<string, string | number>;

/** The attribute names this package records. */
export const ATTRIBUTE = {
  /** The push service's host name (semantic conventions: `server.address`). */
  serverAddress: 'server.address',
  /** The push service's port, the scheme's default when the origin has none. */
  serverPort: 'server.port',
  /** The push service's HTTP status. */
  statusCode: 'http.response.status_code',
  /** Why a push failed or was retried. */
  errorType: 'error.type',
  /** Attempts one send took. */
  attempts: 'graphql_web_push.push.attempts',
  /** Why a result went as a `ref`. */
  refCause: 'graphql_web_push.ref.cause',
  /** Seconds waited before the next attempt, on a `retry` span event. */
  retryDelay: 'graphql_web_push.retry.delay',
} as const;

const MAX_ORIGINS = 1_024;
const byOrigin = new Map<string, Readonly<TelemetryAttributes>>();

/**
 * The `server.address` and `server.port` of a push-service origin.
 * @param origin - `https://host[:port]`
 * @returns the attributes (one frozen object per origin, kept for the next push)
 * @remarks Origins are few (one per push service), so a small map saves parsing a URL per push;
 * it is cleared rather than grown past 1,024 origins.
 */
export function serverAttributes(origin: string): Readonly<TelemetryAttributes> {
  let attributes = byOrigin.get(origin);
  if (attributes === undefined) {
    attributes = Object.freeze(parseOrigin(origin));
    if (byOrigin.size >= MAX_ORIGINS) byOrigin.clear();
    byOrigin.set(origin, attributes);
  }
  return attributes;
}

function parseOrigin(origin: string): TelemetryAttributes {
  const url = URL.canParse(origin) ? new URL(origin) : null;
  if (url === null) return { [ATTRIBUTE.serverAddress]: origin };
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return {
    [ATTRIBUTE.serverAddress]: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    [ATTRIBUTE.serverPort]: port,
  };
}
