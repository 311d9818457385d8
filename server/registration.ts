import type { ExecutionResult, GraphQLError } from 'graphql';
import {
  ErrorCode,
  EXTENSION_KEY,
  type RegistrationAck,
  type RegistrationRequestExtension,
} from '../protocol/index.js';
import { createWebPushError } from './errors.js';
import { isServerId, randomId } from './ids.js';
import type { Runner } from './runner.js';
import type { RegistrationLimits, RegistrationRecord, Store } from './store/types.js';

/** Options of {@link createRegistrar}. */
export interface RegistrarOptions {
  store: Store;
  runner: Runner;
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
  /** The subscription's result stream, already set up by Yoga for this request. */
  iterator: AsyncIterator<ExecutionResult>;
}

/** Stores registrations and hands their streams to the runner. */
export interface Registrar {
  /**
   * Stores a registration (atomically within the limits) and starts its stream.
   * @throws a GraphQLError with WEB_PUSH_UNKNOWN_SUBSCRIPTION (404) or
   * WEB_PUSH_TOO_MANY_REGISTRATIONS (429); nothing is stored then
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
  const { store, runner, limits, registrationTtlMs, keepHeaders, now = Date.now } = options;
  return {
    async register({ extension, query, operationName, variables, headers, iterator }) {
      // A malformed id cannot be one we issued: same answer as an unknown one.
      if (!isServerId(extension.subscriptionId)) throw REFUSALS['unknown-subscription']();
      const kept: Record<string, string> = {};
      for (const name of keepHeaders) {
        const value = headers.get(name);
        if (value !== null) kept[name] = value;
      }
      const createdAt = now();
      const record: RegistrationRecord = {
        id: randomId(),
        tabId: extension.tabId,
        subscriptionId: extension.subscriptionId,
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
        cursor: null,
      };
      const created = await store.createRegistration(record, limits);
      if (!created.ok) throw REFUSALS[created.reason]();
      runner.startRegistration(record, iterator);
      return { registrationId: record.id, expiresAt: record.expiresAt, seq: 0 };
    },
  };
}
