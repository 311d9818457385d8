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
import { groupKey, headersExecutionKey } from './groups/key.js';
import type { GroupRunner } from './groups/runner.js';
import { randomId } from './ids.js';
import type { GroupRecord, RegistrationLimits, RegistrationRecord, Store } from './store/types.js';
import { appendSignal } from './stream/signals.js';

/** Options of {@link createRegistrar}. */
export interface RegistrarOptions {
  store: Store;
  runner: GroupRunner;
  /** Store-wide and per-client caps, checked before the insert. */
  capacity: Pick<Capacity, 'admitRegistration'>;
  /** This instance: the owner of the groups it starts, and their fencing token. */
  owner: { instanceId: string; token(): Promise<number> };
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
  /**
   * The operator's execution key for this request's context: a string shares the execution
   * with every registration of the same operation and key; `null` never shares; `undefined`
   * shares by the kept headers.
   */
  executionKey: string | null | undefined;
  /** The subscription's result stream, already set up by Yoga for this request. */
  iterator: AsyncIterator<ExecutionResult>;
  /** The event cursor the subscription was set up with (`runWithEventCursor`), if any. */
  cursor?: ObservedCursor;
}

/** Stores registrations and puts each in its execution group. */
export interface Registrar {
  /**
   * Stores a registration (atomically within the limits) in the group of its operation: the
   * group running here under the same key if there is one (the request's own stream is closed:
   * the group's execution serves it, from the group's next message on), else a new group, run
   * here on the request's stream.
   * @remarks When a new group's stream reads a replayable pubsub, the position it starts from
   * is stored with the group before the answer, so that an instance adopting it later (this one
   * died before the first event) loses nothing published after the acknowledgement.
   * @throws a GraphQLError with WEB_PUSH_UNKNOWN_SUBSCRIPTION (404),
   * WEB_PUSH_TOO_MANY_REGISTRATIONS (429) or WEB_PUSH_OVER_CAPACITY (503); nothing is stored
   * then, and the caller closes the request's stream
   */
  register(input: RegistrationInput): Promise<RegistrationAck>;
}

type Refusal = 'unknown-subscription' | 'tab-limit' | 'subscription-limit';

const REFUSALS: Record<Refusal, () => GraphQLError> = {
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

/** Joins tried before giving up on groups that keep ending under us. */
const MAX_JOIN_ATTEMPTS = 3;

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
 * @param options - store, runner, owner, limits and what to keep of the request
 * @returns the registrar
 */
export function createRegistrar(options: RegistrarOptions): Registrar {
  const {
    store,
    runner,
    capacity,
    owner,
    limits,
    registrationTtlMs,
    keepHeaders,
    now = Date.now,
  } = options;

  /** Inserts the registration into its group; the base, or a refusal. */
  const insert = (record: RegistrationRecord) => store.createRegistration(record, limits);

  /** The answer; a stream the tab already holds serves a streamed registration from now on. */
  const acknowledge = async (record: RegistrationRecord): Promise<RegistrationAck> => {
    if (record.subscriptionId === null) {
      await store.signal(record.tabId, appendSignal(record.id, 0)).catch(ignore);
    }
    return { registrationId: record.id, expiresAt: record.expiresAt, seq: 0 };
  };

  return {
    async register(input) {
      const { extension, query, operationName, variables, headers, clientKey, cursor } = input;
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
      const key =
        input.executionKey === null
          ? randomId()
          : groupKey({
              query,
              operationName,
              variables,
              executionKey: input.executionKey ?? headersExecutionKey(kept),
            });
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
        groupId: '',
        base: 0,
        headers: kept,
        createdAt,
        expiresAt: createdAt + registrationTtlMs,
        seq: 0,
        ackedSeq: 0,
        done: false,
      };

      for (let attempt = 1; attempt <= MAX_JOIN_ATTEMPTS; attempt += 1) {
        const running = runner.byKey(key);
        if (running) {
          const joined = await insert({ ...record, groupId: running.id });
          if (joined.ok) {
            // The group's execution serves it; this request's own stream is not needed.
            await iterator.return?.();
            return acknowledge({ ...record, groupId: running.id });
          }
          // The caller closes the request's stream on a throw.
          if (joined.reason !== 'group-gone') throw REFUSALS[joined.reason]();
          // It ended or was retired meanwhile: start another.
          continue;
        }
        const token = await owner.token();
        if (cursor?.used() && cursor.tracker.current === null) {
          // The pubsub learns where the stream starts when it is first read: read now, and
          // wait until the start is known (or the stream already answered or failed).
          const first = iterator.next();
          iterator = withFirst(iterator, first);
          await Promise.race([cursor.known(), first.then(ignore, ignore)]);
        }
        const group: GroupRecord = {
          id: randomId(),
          key,
          query,
          operationName,
          variables,
          headers: kept,
          createdAt,
          seq: 0,
          done: false,
          cursor: cursor?.tracker.current ?? null,
          owner: owner.instanceId,
          token,
        };
        let created: Awaited<ReturnType<typeof insert>>;
        try {
          await store.createGroup(group);
          created = await insert({ ...record, groupId: group.id });
        } catch (error) {
          await store.deleteGroup(group.id).catch(ignore);
          throw error;
        }
        if (!created.ok) {
          await store.deleteGroup(group.id).catch(ignore);
          if (created.reason === 'group-gone') break;
          throw REFUSALS[created.reason]();
        }
        // Started once it has its first member: a group with none is retired at its first event.
        runner.start(group, iterator, cursor ? { eventCursor: () => cursor.tracker.current } : {});
        return acknowledge({ ...record, groupId: group.id });
      }
      throw createWebPushError(ErrorCode.Unavailable, 'Service temporarily unavailable');
    },
  };
}
