import {
  type ConfigResponse,
  type DeleteSubscriptionResponse,
  EXTENSION_KEY,
  isConfigResponse,
  isDeleteSubscriptionResponse,
  isMessagesResponse,
  isMoveResponse,
  isPutSubscriptionResponse,
  isRegistrationAck,
  isRenewResponse,
  isUnregisterResponse,
  type MessagesQuery,
  type MessagesResponse,
  type MoveRequest,
  type MoveResponse,
  type PushSubscriptionData,
  type PutSubscriptionResponse,
  REGISTRATION_HEADER,
  REGISTRATION_HEADER_VALUE,
  type RegistrationAck,
  type RenewRequest,
  type RenewResponse,
  ROUTES,
  type UnregisterRequest,
  type UnregisterResponse,
} from '../protocol/index.js';
import { createLinkError, LinkErrorCode, type LinkResult } from './errors.js';

/** JSON body of a registering `POST {url}`. */
export interface RegistrationBody {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  extensions: Record<string, unknown>;
}

/** A GraphQL result as it travels in JSON. */
export interface ResultBody {
  data?: unknown;
  errors?: unknown[];
  extensions?: Record<string, unknown>;
}

/** Answer to a registration: an ack, or GraphQL errors (validation, auth, limits). */
export type RegisterOutcome =
  | { kind: 'ack'; ack: RegistrationAck }
  | { kind: 'errors'; result: ResultBody; status: number };

/** How one request is sent. */
export interface RequestSettings {
  fetch: typeof fetch;
  /** Merged into the request; `method` and `body` are always ours, headers are combined. */
  init?: RequestInit | undefined;
}

/** Options of {@link createRegistrationClient}. */
export interface RegistrationClientOptions {
  /** The GraphQL endpoint; routes live below it. */
  url: string;
  /** Called per request for the `fetch` and `RequestInit` to use (auth headers, credentials). */
  settings: () => RequestSettings;
}

/** The protocol's HTTP calls; every failure is a typed result, nothing throws. */
export interface RegistrationClient {
  /** Absolute URL of one of the {@link ROUTES}. */
  routeUrl(route: keyof typeof ROUTES): string;
  config(): Promise<LinkResult<ConfigResponse>>;
  putSubscription(data: PushSubscriptionData): Promise<LinkResult<PutSubscriptionResponse>>;
  deleteSubscription(subscriptionId: string): Promise<LinkResult<DeleteSubscriptionResponse>>;
  /** Sends the subscription operation to the GraphQL endpoint itself. */
  register(body: RegistrationBody, settings: RequestSettings): Promise<LinkResult<RegisterOutcome>>;
  renew(body: RenewRequest): Promise<LinkResult<RenewResponse>>;
  move(body: MoveRequest): Promise<LinkResult<MoveResponse>>;
  messages(query: MessagesQuery): Promise<LinkResult<MessagesResponse>>;
  /**
   * With `keepalive` the request outlives the page (`pagehide`): `fetch(…, { keepalive: true })`,
   * which, unlike `sendBeacon`, can send `application/json`.
   */
  unregister(
    body: UnregisterRequest,
    options?: { keepalive?: boolean },
  ): Promise<LinkResult<UnregisterResponse>>;
}

type Validator<T> = (value: unknown) => value is T;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

/** First `extensions.code` of a GraphQL-over-HTTP error body. */
const serverCodeOf = (body: unknown): string | undefined => {
  if (!isObject(body) || !Array.isArray(body.errors)) return undefined;
  const first: unknown = body.errors[0];
  const code = isObject(first) && isObject(first.extensions) ? first.extensions.code : undefined;
  return typeof code === 'string' ? code : undefined;
};

const withJsonHeaders = (
  init: RequestInit | undefined,
  accept: string,
  hasBody: boolean,
  extra: Record<string, string> = {},
) => {
  const headers = new Headers(init?.headers);
  // A GET without content-type stays a "simple" request: no CORS preflight.
  if (hasBody) headers.set('content-type', 'application/json');
  headers.set('accept', accept);
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  return headers;
};

/**
 * Creates the client of the protocol's HTTP routes.
 * @param options - see {@link RegistrationClientOptions}.
 * @returns the client.
 * @remarks Every call resolves: network failures, non-2xx answers and malformed bodies become
 * `{ ok: false, error }` with a {@link LinkErrorCode}, so that callers never need `try`. Every
 * answer is checked with the protocol's validators.
 */
export function createRegistrationClient({
  url,
  settings,
}: RegistrationClientOptions): RegistrationClient {
  const base = new URL(url, (globalThis as { location?: { href: string } }).location?.href);

  const routeUrl = (route: keyof typeof ROUTES): string => {
    const target = new URL(base);
    target.pathname = target.pathname.replace(/\/$/, '') + ROUTES[route];
    return target.href;
  };

  /** Sends a request and reads its JSON body, if any. */
  const send = async (
    target: string,
    method: string,
    body: unknown,
    using: RequestSettings,
    accept = 'application/json',
    extraHeaders: Record<string, string> = {},
  ): Promise<LinkResult<{ status: number; ok: boolean; body: unknown }>> => {
    let response: Response;
    // Called unbound: a browser's fetch throws "Illegal invocation" with another `this`.
    const doFetch = using.fetch;
    try {
      response = await doFetch(target, {
        ...using.init,
        method,
        headers: withJsonHeaders(using.init, accept, body !== undefined, extraHeaders),
        ...(body === undefined ? { body: null } : { body: JSON.stringify(body) }),
      });
    } catch (cause) {
      return {
        ok: false,
        error: createLinkError(LinkErrorCode.Network, `${method} ${target} failed`, { cause }),
      };
    }
    let parsed: unknown;
    try {
      const text = await response.text();
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { ok: true, value: { status: response.status, ok: response.ok, body: parsed } };
  };

  const call = async <T>(
    target: string,
    method: string,
    body: unknown,
    validate: Validator<T>,
    extraInit: RequestInit = {},
  ): Promise<LinkResult<T>> => {
    const using = settings();
    const sent = await send(target, method, body, {
      ...using,
      init: { ...using.init, ...extraInit },
    });
    if (!sent.ok) return sent;
    const { status, ok, body: answer } = sent.value;
    if (!ok) {
      const serverCode = serverCodeOf(answer);
      return {
        ok: false,
        error: createLinkError(LinkErrorCode.Http, `${method} ${target} answered ${status}`, {
          status,
          ...(serverCode === undefined ? {} : { serverCode }),
        }),
      };
    }
    if (!validate(answer)) {
      return {
        ok: false,
        error: createLinkError(LinkErrorCode.BadResponse, `${method} ${target}: unexpected body`, {
          status,
        }),
      };
    }
    return { ok: true, value: answer };
  };

  return {
    routeUrl,
    config: () => call(routeUrl('config'), 'GET', undefined, isConfigResponse),
    putSubscription: (data) =>
      call(routeUrl('subscriptions'), 'PUT', data, isPutSubscriptionResponse),
    deleteSubscription: (subscriptionId) =>
      call(routeUrl('subscriptions'), 'DELETE', { subscriptionId }, isDeleteSubscriptionResponse),
    async register(body, using) {
      const sent = await send(
        base.href,
        'POST',
        body,
        using,
        'application/graphql-response+json, application/json',
        { [REGISTRATION_HEADER]: REGISTRATION_HEADER_VALUE },
      );
      if (!sent.ok) return sent;
      const { status, ok, body: answer } = sent.value;
      if (isObject(answer) && Array.isArray(answer.errors) && answer.errors.length > 0) {
        return { ok: true, value: { kind: 'errors', result: answer as ResultBody, status } };
      }
      const ack =
        isObject(answer) && isObject(answer.extensions) && answer.extensions[EXTENSION_KEY];
      if (ok && isRegistrationAck(ack)) return { ok: true, value: { kind: 'ack', ack } };
      return {
        ok: false,
        error: ok
          ? createLinkError(
              LinkErrorCode.BadResponse,
              `registration answer has no ${EXTENSION_KEY} ack`,
              { status },
            )
          : createLinkError(LinkErrorCode.Http, `registration answered ${status}`, { status }),
      };
    },
    renew: (body) => call(routeUrl('renew'), 'POST', body, isRenewResponse),
    move: (body) => call(routeUrl('move'), 'POST', body, isMoveResponse),
    messages({ tabId, registrationId, after }) {
      const target = new URL(routeUrl('messages'));
      target.searchParams.set('tabId', tabId);
      target.searchParams.set('registrationId', registrationId);
      target.searchParams.set('after', String(after));
      return call(target.href, 'GET', undefined, isMessagesResponse).then(
        (result): LinkResult<MessagesResponse> =>
          result.ok
            ? {
                ok: true,
                value: {
                  lastSeq: result.value.lastSeq,
                  // Only what was asked for: a confused server cannot inject another's messages.
                  envelopes: result.value.envelopes.filter(
                    (e) => e.reg === registrationId && e.tab === tabId,
                  ),
                },
              }
            : result,
      );
    },
    unregister: (body, { keepalive = false } = {}) =>
      call(
        routeUrl('unregister'),
        'POST',
        body,
        isUnregisterResponse,
        keepalive ? { keepalive } : {},
      ),
  };
}
