import type { ExecutionResult } from 'graphql';
import type { YogaLogger } from 'graphql-yoga';
import { type ObservedCursor, observeCursor } from './event-cursor.js';
import { logId, randomId } from './ids.js';
import type { LeaseKeeper } from './lease.js';
import type { Runner } from './runner.js';
import type { RegistrationRecord, Store } from './store/types.js';

/**
 * Header that marks an adoption request. Its value is a one-time random key known only to the
 * process that sent the request, so nobody outside can make Yoga treat a request as an adoption.
 */
export const ADOPTION_HEADER = 'x-graphql-web-push-adoption';

/** Where adoption requests go: Yoga's own `fetch` and its GraphQL endpoint path. */
export interface AdoptionTarget {
  fetch(url: string, init: RequestInit): Promise<Response>;
  endpoint: string;
}

/** An adoption request under way. */
export interface PendingAdoption {
  record: RegistrationRecord;
  /** Fencing token of the lease taken for it. */
  token: number;
  /** Resumes the stream after the registration's stored cursor. */
  cursor: ObservedCursor;
  /** Set once the stream was handed to the runner. */
  started: boolean;
}

/** Options of {@link createAdopter}. */
export interface AdopterOptions {
  store: Store;
  runner: Runner;
  leases: LeaseKeeper;
  logger: YogaLogger;
  /** Yoga, once it started; adoption waits for it. */
  target(): AdoptionTarget | undefined;
  now?: () => number;
}

/** Registrations whose backoff is remembered; past it the memory starts over (bounded). */
const MAX_BACKOFF_ENTRIES = 10_000;

/** Runs stored registrations again through Yoga on this instance. */
export interface Adopter {
  /**
   * Re-runs a registration's stored operation, under a lease already taken, through Yoga: the
   * context factory, auth plugins and validation apply again.
   */
  adopt(registrationId: string, token: number): Promise<void>;
  /** The adoption a request belongs to, when it is one of this process's adoption requests. */
  of(request: Request | undefined): PendingAdoption | undefined;
  /**
   * False while a registration waits out the backoff after an adoption Yoga answered with a 5xx
   * (1 s, doubling up to a minute), so that a failing dependency is not hammered every round.
   */
  ready(registrationId: string): boolean;
  /** Hands an adopted registration's stream to the runner (called from Yoga's hooks). */
  start(adoption: PendingAdoption, iterator: AsyncIterator<ExecutionResult>): Promise<void>;
  /** Refuses further adoptions; streams that arrive later are closed and their leases released. */
  close(): void;
}

/** One result, then the end: how a refused adoption reaches the runner as an `error` message. */
function single(result: ExecutionResult): AsyncIterator<ExecutionResult> {
  let done = false;
  return {
    async next() {
      if (done) return { done: true, value: undefined };
      done = true;
      return { done: false, value: result };
    },
  };
}

/** The `errors` of a refused request's body, or a generic error when it has none. */
function errorsOf(text: string): ExecutionResult['errors'] {
  try {
    const body = JSON.parse(text) as { errors?: unknown };
    if (Array.isArray(body.errors) && body.errors.length > 0) {
      return body.errors as ExecutionResult['errors'];
    }
  } catch {
    // Not JSON: fall through.
  }
  return [{ message: 'Unexpected error.' }] as unknown as ExecutionResult['errors'];
}

/**
 * Creates the {@link Adopter}.
 *
 * @param options - store, runner, lease keeper and Yoga; see {@link AdopterOptions}
 * @returns the adopter
 * @remarks An adoption is an in-process `POST` of the stored query, variables and operation name
 * with the kept headers and {@link ADOPTION_HEADER}. The plugin's hooks recognise it, run the
 * subscription inside `runWithEventCursor` so that a replayable pubsub resumes right after the
 * registration's cursor, and hand the stream to the runner under the lease's fencing token.
 * When Yoga refuses the operation now (auth expired, the schema changed) with a 4xx or a GraphQL
 * error, the registration ends with an `error` message carrying Yoga's errors, so the tab learns
 * it; a 5xx is taken as passing trouble: the lease is released and a later round tries again.
 */
export function createAdopter(options: AdopterOptions): Adopter {
  const { store, runner, leases, logger, target, now = Date.now } = options;
  const pending = new Map<string, PendingAdoption>();
  const backoff = new Map<string, { failures: number; retryAt: number }>();
  let closed = false;

  const start = async (
    adoption: PendingAdoption,
    iterator: AsyncIterator<ExecutionResult>,
  ): Promise<void> => {
    adoption.started = true;
    const { record, token, cursor } = adoption;
    if (closed) {
      await iterator.return?.();
      await leases.release(record.id);
      return;
    }
    runner.startRegistration(record, iterator, {
      fencingToken: token,
      eventCursor: () => cursor.tracker.current,
    });
    leases.hold(record.id, token);
  };

  return {
    async adopt(registrationId, token) {
      const record = await store.getRegistration(registrationId);
      const yoga = target();
      if (!record || record.done || !yoga || closed) {
        await leases.release(registrationId);
        return;
      }
      const key = randomId();
      const adoption: PendingAdoption = {
        record,
        token,
        cursor: observeCursor(record.cursor),
        started: false,
      };
      pending.set(key, adoption);
      let status: number;
      let text: string;
      try {
        const response = await yoga.fetch(`http://localhost${yoga.endpoint}`, {
          method: 'POST',
          headers: {
            ...record.headers,
            'content-type': 'application/json',
            accept: 'application/json',
            [ADOPTION_HEADER]: key,
          },
          body: JSON.stringify({
            query: record.query,
            ...(record.variables ? { variables: record.variables } : {}),
            ...(record.operationName ? { operationName: record.operationName } : {}),
          }),
        });
        status = response.status;
        text = await response.text();
      } finally {
        pending.delete(key);
      }
      if (adoption.started) {
        backoff.delete(registrationId);
        return;
      }
      if (status >= 500) {
        const failures = (backoff.get(registrationId)?.failures ?? 0) + 1;
        if (backoff.size >= MAX_BACKOFF_ENTRIES) backoff.clear();
        backoff.set(registrationId, {
          failures,
          retryAt: now() + Math.min(60_000, 1_000 * 2 ** (failures - 1)),
        });
        logger.warn(
          `graphql-web-push: adopting ${logId(registrationId)} answered ${status}; will retry`,
        );
        await leases.release(registrationId);
        return;
      }
      backoff.delete(registrationId);
      await start(adoption, single({ errors: errorsOf(text) }));
    },

    ready(registrationId) {
      const entry = backoff.get(registrationId);
      return entry === undefined || entry.retryAt <= now();
    },

    of(request) {
      // Some hooks run without a request in the context (a result set before execution).
      const key = request?.headers?.get(ADOPTION_HEADER) ?? null;
      return key === null ? undefined : pending.get(key);
    },

    start,

    close() {
      closed = true;
    },
  };
}
