import type { YogaLogger } from 'graphql-yoga';
import { DEFAULT_PUSH_BUDGET_BYTES, MAX_PUSH_PLAINTEXT_BYTES } from '../protocol/index.js';
import { randomId } from './ids.js';
import type { PushSender } from './push/index.js';
import { createMemoryStore } from './store/memory.js';
import type { RegistrationRecord, Store } from './store/types.js';
import type { VapidOptions } from './vapid.js';

/** Options of `useWebPush`. */
export interface WebPushOptions {
  /** VAPID identity of this application server (RFC 8292). The private key is never logged. */
  vapid: VapidOptions;
  /**
   * Where push subscriptions, registrations and message logs live. Use a shared store (Redis)
   * when several instances serve the same clients.
   * @defaultValue `createMemoryStore()`
   */
  store?: Store;
  /**
   * Extra push-service origins accepted as endpoints besides the well-known vendors (e.g. the
   * local push service in development). Anything else is refused: the server POSTs to these URLs.
   * @defaultValue `[]`
   */
  allowedPushOrigins?: string[];
  /**
   * Origins besides the request's own whose pages may register and call the state-changing
   * routes (an app served from another origin than its API). A request whose `Origin` (or
   * `Sec-Fetch-Site: cross-site`) names any other origin is refused with 403
   * `WEB_PUSH_FORBIDDEN_ORIGIN`: a registration made by another site's form would run with the
   * victim's cookies and push the victim's data to the attacker's browser.
   * @defaultValue `[]`: only the request's own origin
   */
  allowedOrigins?: string[];
  /**
   * How long a registration lives without renewal.
   * @defaultValue `60_000`
   */
  registrationTtlMs?: number;
  /**
   * How often clients are told to renew.
   * @defaultValue `registrationTtlMs / 3`
   */
  renewIntervalMs?: number;
  /**
   * Largest plaintext put in one push message; larger results are sent as `type: "ref"` and
   * fetched from `…/messages`. At most `MAX_PUSH_PLAINTEXT_BYTES`.
   * @defaultValue `DEFAULT_PUSH_BUDGET_BYTES` (3072)
   */
  maxPayloadBytes?: number;
  /**
   * Largest GraphQL document (UTF-8 bytes) accepted for a registration.
   * @defaultValue `16_384`
   */
  maxDocumentBytes?: number;
  /**
   * Largest body of a registration (`POST /graphql`) or of a `…/push/*` route request; a larger
   * `Content-Length` is refused before the body is read.
   * @defaultValue `65_536`
   */
  maxBodyBytes?: number;
  /**
   * Largest variables of a registration, as JSON bytes (they are stored with it).
   * @defaultValue `16_384`
   */
  maxVariablesBytes?: number;
  /**
   * Deepest nesting of a registration's variables (`{}` is 1); deeper is refused with 400.
   * @defaultValue `32`
   */
  maxVariablesDepth?: number;
  /**
   * Registrations one tab may hold at once.
   * @defaultValue `50`
   */
  maxRegistrationsPerTab?: number;
  /**
   * Registrations one push subscription (one browser profile) may hold at once.
   * @defaultValue `200`
   */
  maxRegistrationsPerSubscription?: number;
  /**
   * Live push subscriptions the store may hold in all; past it a new one is refused with 503
   * `WEB_PUSH_OVER_CAPACITY` and `Retry-After`.
   * @defaultValue `100_000`
   */
  maxPushSubscriptions?: number;
  /**
   * Live registrations the store may hold in all (each holds a live execution on some instance);
   * past it a new one is refused with 503 `WEB_PUSH_OVER_CAPACITY` and `Retry-After`.
   * @defaultValue `50_000`
   */
  maxRegistrations?: number;
  /**
   * Names the client of a request for per-client limits, e.g. the address a trusted proxy puts
   * in `X-Forwarded-For`, or an account id. `null` or `undefined`: no per-client limit for it.
   * Only a digest of the key is stored. A throw counts as no key.
   * @defaultValue none: no per-client limits
   */
  clientKey?: (request: Request) => string | null | undefined;
  /**
   * Push subscriptions one client may hold (with `clientKey`); more are refused with 429
   * `WEB_PUSH_TOO_MANY_SUBSCRIPTIONS`.
   * @defaultValue `10`
   */
  maxPushSubscriptionsPerClient?: number;
  /**
   * Registrations one client may hold (with `clientKey`); more are refused with 429
   * `WEB_PUSH_TOO_MANY_REGISTRATIONS`.
   * @defaultValue `100`
   */
  maxRegistrationsPerClient?: number;
  /**
   * Request headers kept with a registration to rebuild its context later (lower case).
   * @defaultValue `['authorization', 'cookie']`
   */
  keepHeaders?: string[];
  /**
   * How long messages stay in a registration's log, and the TTL of each push message.
   * @defaultValue `86_400_000` (24 hours)
   */
  messageTtlMs?: number;
  /**
   * Unacknowledged messages kept per registration; the oldest go first.
   * @defaultValue `1000`
   */
  maxRetainedMessages?: number;
  /**
   * Send each registration's pushes with a `Topic` (RFC 8030 section 5.4), so that a newer push
   * replaces an undelivered older one and a push service holds at most one per registration for
   * an offline browser (Mozilla's autopush drops a browser with ~150 stored messages; the log
   * holds every message anyway, and the tab fetches what a replaced push carried).
   * @defaultValue `true`
   */
  pushTopics?: boolean;
  /**
   * How often expired registrations are collected and their server-side subscriptions closed.
   * @defaultValue `1000`
   */
  sweepIntervalMs?: number;
  /**
   * How often an open stream (`GET …/push/stream`) carries a heartbeat, so that proxies keep it
   * open and a client notices a dead one.
   * @defaultValue `15_000`
   */
  streamHeartbeatMs?: number;
  /**
   * Streams this instance holds open at most; past it a new stream is refused with 503
   * `WEB_PUSH_OVER_CAPACITY` and `Retry-After`, and the client tries again (maybe elsewhere).
   * @defaultValue `10_000`
   */
  maxStreams?: number;
  /**
   * Streams one tab may hold open on this instance; a newer one ends the oldest (`replaced`).
   * @defaultValue `2`
   */
  maxStreamsPerTab?: number;
  /**
   * A stream is ended after about this long (±10 %) with `reconnect`, and the client resumes at
   * once, maybe on another instance: new instances of a scaled-out service get their share.
   * @defaultValue `600_000` (10 minutes)
   */
  streamMaxAgeMs?: number;
  /**
   * This server instance's id: the owner named on the execution groups it runs. Unique per
   * process.
   * @defaultValue a random id
   */
  instanceId?: string;
  /**
   * How long this instance's lease lasts without a heartbeat (one every third of it, however
   * many registrations it serves). When an instance dies, others adopt its execution groups
   * within about this time plus {@link WebPushOptions.adoptIntervalMs}.
   * @defaultValue `5_000`
   */
  leaseTtlMs?: number;
  /**
   * How often each instance looks for execution groups whose owner's lease ended, and adopts
   * them. One cheap store query per round; short rounds make adoption follow the lease's end
   * closely.
   * @defaultValue `leaseTtlMs / 5`
   */
  adoptIntervalMs?: number;
  /**
   * Which registrations of the same operation (same document, operation name and variables)
   * share one execution: one run of the resolver and the document per event, one log entry, and
   * only encryption per browser. Called with the registering request's GraphQL context.
   * Return a string to share with every registration whose context gives the same string (for
   * public data: `() => 'public'`; per role: `(ctx) => ctx.user?.role ?? 'anonymous'`), `null`
   * to never share this one, `undefined` for the default. The shared execution runs with the
   * context of the request that started it, rebuilt from its kept headers on adoption: declare
   * a key coarser than the headers only where that context gives everyone the same results.
   * @defaultValue registrations share when their kept headers ({@link WebPushOptions.keepHeaders})
   * are equal, the same context an adoption would rebuild for each
   */
  executionKey?: (
    context: Record<string, unknown>,
  ) => string | null | undefined | Promise<string | null | undefined>;
  /**
   * Re-checks the caller on every renewal. Called with the renewing request (its headers carry
   * the tab's current credentials) and the tab's registrations it names; return false to refuse:
   * the answer is 401 `WEB_PUSH_UNAUTHENTICATED`, nothing is renewed, and the registrations end
   * when their expiry passes, closing their server-side subscriptions. A throw counts as false.
   * Compare with `registration.headers`, what was kept of the registering request.
   * @defaultValue none: a renewal is authorised by the tab id the registrations belong to
   */
  authorizeRenewal?: (
    request: Request,
    registrations: RegistrationRecord[],
  ) => boolean | Promise<boolean>;
  /**
   * Sends push messages. Injected for tests or to share one sender between servers; an injected
   * sender belongs to the caller and is not closed when Yoga is disposed.
   * @defaultValue a sender built with `createPushSender({ vapid })`
   */
  sender?: PushSender;
  /**
   * Where the plugin logs failed sends and store errors.
   * @defaultValue Yoga's logger
   */
  logger?: YogaLogger;
}

/**
 * The default of every numeric limit and timing, once: `resolveOptions` fills these in, checks
 * that each is a positive integer, and the TSDoc above names the same values.
 */
export const LIMIT_DEFAULTS = {
  registrationTtlMs: 60_000,
  maxPayloadBytes: DEFAULT_PUSH_BUDGET_BYTES,
  maxDocumentBytes: 16_384,
  maxBodyBytes: 65_536,
  maxVariablesBytes: 16_384,
  maxVariablesDepth: 32,
  maxRegistrationsPerTab: 50,
  maxRegistrationsPerSubscription: 200,
  maxPushSubscriptions: 100_000,
  maxRegistrations: 50_000,
  maxPushSubscriptionsPerClient: 10,
  maxRegistrationsPerClient: 100,
  messageTtlMs: 86_400_000,
  maxRetainedMessages: 1000,
  sweepIntervalMs: 1000,
  streamHeartbeatMs: 15_000,
  maxStreams: 10_000,
  maxStreamsPerTab: 2,
  streamMaxAgeMs: 600_000,
  leaseTtlMs: 5_000,
} as const satisfies Partial<Record<keyof WebPushOptions, number>>;

type Limits = { -readonly [K in keyof typeof LIMIT_DEFAULTS]: number };

/** {@link WebPushOptions} with every default filled in. */
export interface ResolvedOptions extends Limits {
  vapid: VapidOptions;
  store: Store;
  allowedPushOrigins: string[];
  allowedOrigins: string[];
  /** Lower-case. */
  keepHeaders: string[];
  pushTopics: boolean;
  instanceId: string;
  renewIntervalMs: number;
  adoptIntervalMs: number;
  clientKey: WebPushOptions['clientKey'];
  executionKey: WebPushOptions['executionKey'];
  authorizeRenewal: WebPushOptions['authorizeRenewal'];
  sender: PushSender | undefined;
  logger: YogaLogger | undefined;
}

/**
 * Fills in defaults and rejects option values that cannot work.
 * @param options - what the operator passed
 * @returns the options with defaults
 * @throws RangeError when a limit is not a positive integer or the payload budget exceeds
 * `MAX_PUSH_PLAINTEXT_BYTES`
 */
export function resolveOptions(options: WebPushOptions): ResolvedOptions {
  const limits = { ...LIMIT_DEFAULTS } as Limits;
  for (const name of Object.keys(LIMIT_DEFAULTS) as (keyof Limits)[]) {
    const given = options[name];
    if (given !== undefined) limits[name] = given;
  }
  const renewIntervalMs = options.renewIntervalMs ?? Math.floor(limits.registrationTtlMs / 3);
  const adoptIntervalMs = options.adoptIntervalMs ?? Math.max(1, Math.floor(limits.leaseTtlMs / 5));
  for (const [name, value] of Object.entries({ ...limits, renewIntervalMs, adoptIntervalMs })) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`useWebPush: ${name} must be a positive integer, got ${value}`);
    }
  }
  if (limits.maxPayloadBytes > MAX_PUSH_PLAINTEXT_BYTES) {
    throw new RangeError(
      `useWebPush: maxPayloadBytes ${limits.maxPayloadBytes} exceeds ${MAX_PUSH_PLAINTEXT_BYTES}`,
    );
  }
  return {
    ...limits,
    vapid: options.vapid,
    store: options.store ?? createMemoryStore(),
    allowedPushOrigins: options.allowedPushOrigins ?? [],
    allowedOrigins: options.allowedOrigins ?? [],
    keepHeaders: (options.keepHeaders ?? ['authorization', 'cookie']).map((name) =>
      name.toLowerCase(),
    ),
    pushTopics: options.pushTopics ?? true,
    instanceId: options.instanceId ?? randomId(),
    renewIntervalMs,
    adoptIntervalMs,
    clientKey: options.clientKey,
    executionKey: options.executionKey,
    authorizeRenewal: options.authorizeRenewal,
    sender: options.sender,
    logger: options.logger,
  };
}
