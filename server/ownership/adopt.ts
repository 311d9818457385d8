import type { ExecutionResult } from 'graphql';
import type { YogaLogger } from 'graphql-yoga';
import { backoffDelay } from '../../protocol/backoff.js';
import { type ObservedCursor, observeCursor } from '../event-cursor.js';
import type { GroupRunner } from '../groups/runner.js';
import { logId, randomId } from '../ids.js';
import type { GroupRecord } from '../store/types.js';

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
  /** The group, as claimed by this instance. */
  group: GroupRecord;
  /** Resumes the stream after the group's stored cursor. */
  cursor: ObservedCursor;
  /** Set once the stream was handed to the runner. */
  started: boolean;
}

/** Options of {@link createAdopter}. */
export interface AdopterOptions {
  runner: GroupRunner;
  logger: YogaLogger;
  /** Yoga, once it started. */
  target(): AdoptionTarget | undefined;
}

/** Runs claimed groups again through Yoga on this instance. */
export interface Adopter {
  /**
   * Re-runs a group this instance just claimed, through Yoga: the context factory, auth plugins
   * and validation apply again, with the headers kept of the request that started the group.
   */
  adopt(group: GroupRecord): Promise<void>;
  /** The adoption a request belongs to, when it is one of this process's adoption requests. */
  of(request: Request | undefined): PendingAdoption | undefined;
  /** Hands an adopted group's stream to the runner (called from Yoga's hooks). */
  start(adoption: PendingAdoption, iterator: AsyncIterator<ExecutionResult>): Promise<void>;
  /** Groups claimed here whose adoption failed for a passing reason and waits to be retried. */
  readonly waiting: number;
  /** Refuses further adoptions and cancels retries; streams that arrive later are closed. */
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
 * @param options - runner and Yoga; see {@link AdopterOptions}
 * @returns the adopter
 * @remarks An adoption is an in-process `POST` of the group's query, variables and operation
 * name with its kept headers and {@link ADOPTION_HEADER}. The plugin's hooks recognise it, run
 * the subscription inside `runWithEventCursor` so that a replayable pubsub resumes right after
 * the group's cursor, and hand the stream to the runner under this instance's token. When Yoga
 * refuses the operation now (auth expired, the schema changed) with a 4xx or a GraphQL error, the
 * group ends with an `error` message carrying Yoga's errors, so every member's tab learns it. A
 * 5xx is passing trouble: the group stays claimed here and is tried again after a backoff (1 s,
 * doubling up to a minute); if this instance dies meanwhile, another claims it.
 */
export function createAdopter(options: AdopterOptions): Adopter {
  const { runner, target, logger } = options;
  const pending = new Map<string, PendingAdoption>();
  const retries = new Map<string, ReturnType<typeof setTimeout>>();
  let closed = false;

  const start = async (
    adoption: PendingAdoption,
    iterator: AsyncIterator<ExecutionResult>,
  ): Promise<void> => {
    adoption.started = true;
    if (closed) {
      await iterator.return?.();
      return;
    }
    const { group, cursor } = adoption;
    runner.start(group, iterator, { eventCursor: () => cursor.tracker.current });
  };

  const retryLater = (group: GroupRecord, failures: number): void => {
    if (closed) return;
    const delay = backoffDelay(failures, { baseMs: 1_000, maxMs: 60_000, jitter: 'none' });
    const timer = setTimeout(() => {
      retries.delete(group.id);
      void attempt(group, failures);
    }, delay);
    timer.unref();
    retries.set(group.id, timer);
  };

  const attempt = async (group: GroupRecord, failures: number): Promise<void> => {
    const yoga = target();
    if (closed) return;
    if (!yoga) return retryLater(group, failures + 1);
    const key = randomId();
    const adoption: PendingAdoption = {
      group,
      cursor: observeCursor(group.cursor),
      started: false,
    };
    pending.set(key, adoption);
    let status: number;
    let text: string;
    try {
      const response = await yoga.fetch(`http://localhost${yoga.endpoint}`, {
        method: 'POST',
        headers: {
          ...group.headers,
          'content-type': 'application/json',
          accept: 'application/json',
          [ADOPTION_HEADER]: key,
        },
        body: JSON.stringify({
          query: group.query,
          ...(group.variables ? { variables: group.variables } : {}),
          ...(group.operationName ? { operationName: group.operationName } : {}),
        }),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      logger.warn(`graphql-web-push: adopting group ${logId(group.id)} failed; will retry`, error);
      return retryLater(group, failures + 1);
    } finally {
      pending.delete(key);
    }
    if (adoption.started) return;
    if (status >= 500) {
      logger.warn(
        `graphql-web-push: adopting group ${logId(group.id)} answered ${status}; will retry`,
      );
      return retryLater(group, failures + 1);
    }
    await start(adoption, single({ errors: errorsOf(text) }));
  };

  return {
    adopt: (group) => attempt(group, 0),
    of(request) {
      // Some hooks run without a request in the context (a result set before execution).
      const key = request?.headers?.get(ADOPTION_HEADER) ?? null;
      return key === null ? undefined : pending.get(key);
    },
    start,
    get waiting() {
      return retries.size;
    },
    close() {
      closed = true;
      for (const timer of retries.values()) clearTimeout(timer);
      retries.clear();
    },
  };
}
