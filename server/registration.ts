import type { ExecutionResult, GraphQLError } from 'graphql';
import {
  ErrorCode,
  EXTENSION_KEY,
  isServerId,
  type RegistrationAck,
  type RegistrationRequestExtension,
} from '../protocol/index.js';
import type { Capacity } from './capacity.js';
import { createWebPushError } from './errors.js';
import type { ObservedCursor } from './event-cursor.js';
import { randomId } from './ids.js';
import type { LeaseKeeper } from './lease.js';
import type { Runner } from './runner.js';
import type { RegistrationLimits, RegistrationRecord, Store } from './store/types.js';

/** Options of {@link createRegistrar}. */
export interface RegistrarOptions {
  store: Store;
  runner: Runner;
  /** Store-wide and per-client caps, checked before the insert. */
  capacity: Pick<Capacity, 'admitRegistration'>;
  /** Leases: a new registration runs here under a lease, like an adopted one. */
  leases: Pick<LeaseKeeper, 'reserve' | 'forget' | 'acquire' | 'hold'>;
  limits: RegistrationLimits;
  registrationTtlMs: number;
  /** Lower-case names of the request headers kept with each registration. */
  keepHeaders: readonly string[];
  now?: () => number;
}

/** What a registering request brings. */
export interface RegistrationInput {
  extension: RegistrationRequestExtension;
  query: string;
  operationName: string | null;
  variables: Record<string, unknown> | null;
  headers: Headers;
  /** The client's key (a digest of the operator's `clientKey`), or `null`. */
  clientKey: string | null;
  /** The subscription's result stream, already set up by Yoga for this request. */
  iterator: AsyncIterator<ExecutionResult>;
  /** The event cursor the subscription was set up with (`runWithEventCursor`), if any. */
  cursor?: ObservedCursor;
}

/** Stores registrations and hands their streams to the runner. */
export interface Registrar {
  /**
   * Stores a registration (atomically within the limits), takes its lease and starts its stream.
   * @remarks When the stream reads a replayable pubsub, the position it starts from is stored
   * with the registration before the answer, so that an instance adopting it later (this one
   * died before the first event) loses nothing published after the acknowledgement. When the
   * lease cannot be taken (another instance adopted the registration in between, or the store
   * failed), the stream is closed here and the registration, already stored, is adopted.
   * @throws a GraphQLError with WEB_PUSH_UNKNOWN_SUBSCRIPTION (404),
   * WEB_PUSH_TOO_MANY_REGISTRATIONS (429) or WEB_PUSH_OVER_CAPACITY (503); nothing is stored then
   */
  register(input: RegistrationInput): Promise<RegistrationAck>;
}

const REFUSALS: Record<
  'unknown-subscription' | 'tab-limit' | 'subscription-limit',
  () => GraphQLError
> = {
  'unknown-subscription': () =>
    createWebPushError(ErrorCode.UnknownSubscription, 'Unknown push subscription: PUT it again'),
  'tab-limit': () =>
    createWebPushError(ErrorCode.TooManyRegistrations, 'Too many registrations for this tab'),
  'subscription-limit': () =>
    createWebPushError(
      ErrorCode.TooManyRegistrations,
      'Too many registrations for this push subscription',
    ),
};

const ignore = (): void => {};

/** `iterator`, whose first `next()` gives `first` (already asked for). */
function withFirst<T>(
  iterator: AsyncIterator<T>,
  first: Promise<IteratorResult<T>>,
): AsyncIterator<T> {
  let pending: Promise<IteratorResult<T>> | undefined = first;
  return {
    next() {
      const step = pending ?? iterator.next();
      pending = undefined;
      return step;
    },
    return: (value?: unknown) =>
      iterator.return ? iterator.return(value) : Promise.resolve({ done: true, value: undefined }),
  };
}

/**
 * Reads `extensions.webPush` of GraphQL params without checking it.
 * @param params - Yoga's GraphQL params (or anything)
 * @returns the raw extension, or `undefined` when the request is not a registration
 */
export function registrationExtensionOf(params: unknown): unknown {
  const extensions = (params as { extensions?: unknown } | undefined)?.extensions;
  if (typeof extensions !== 'object' || extensions === null) return undefined;
  return (extensions as Record<string, unknown>)[EXTENSION_KEY];
}

/**
 * Creates the {@link Registrar}.
 * @param options - store, runner, limits and what to keep of the request
 * @returns the registrar
 */
export function createRegistrar(options: RegistrarOptions): Registrar {
  const {
    store,
    runner,
    capacity,
    leases,
    limits,
    registrationTtlMs,
    keepHeaders,
    now = Date.now,
  } = options;
  return {
    async register({
      extension,
      query,
      operationName,
      variables,
      headers,
      clientKey,
      cursor,
      ...input
    }) {
      let { iterator } = input;
      const subscriptionId = extension.subscriptionId ?? null;
      // A malformed id cannot be one we issued: same answer as an unknown one.
      if (subscriptionId !== null && !isServerId(subscriptionId)) {
        throw REFUSALS['unknown-subscription']();
      }
      await capacity.admitRegistration(clientKey);
      const kept: Record<string, string> = {};
      for (const name of keepHeaders) {
        const value = headers.get(name);
        if (value !== null) kept[name] = value;
      }
      if (cursor?.used()) {
        // The pubsub learns where the stream starts when it is first read: read now, and wait
        // until the start is known (or the stream already answered or failed).
        const first = iterator.next();
        iterator = withFirst(iterator, first);
        await Promise.race([cursor.known(), first.then(ignore, ignore)]);
      }
      const createdAt = now();
      const record: RegistrationRecord = {
        id: randomId(),
        tabId: extension.tabId,
        subscriptionId,
        // A new registration is pushed at once; a hidden tab says so in its next renewal.
        held: false,
        background: extension.background === true,
        clientKey,
        operationKey: extension.operationKey,
        query,
        operationName,
        variables,
        headers: kept,
        createdAt,
        expiresAt: createdAt + registrationTtlMs,
        seq: 0,
        ackedSeq: 0,
        done: false,
        cursor: cursor?.tracker.current ?? null,
      };
      // Claimed here first, so the adoption loop here never takes it for an orphan.
      leases.reserve(record.id);
      let token: number | null = null;
      try {
        const created = await store.createRegistration(record, limits);
        if (!created.ok) throw REFUSALS[created.reason]();
        token = await leases.acquire(record.id).catch(() => null);
      } finally {
        if (token === null) leases.forget(record.id);
      }
      if (token === null) {
        await iterator.return?.();
      } else {
        runner.startRegistration(record, iterator, {
          fencingToken: token,
          ...(cursor ? { eventCursor: () => cursor.tracker.current } : {}),
        });
        leases.hold(record.id, token);
      }
      return { registrationId: record.id, expiresAt: record.expiresAt, seq: 0 };
    },
  };
}
