import { randomBytes } from 'node:crypto';
import type { ExecutionResult } from 'graphql';
import { maskError, type YogaLogger } from 'graphql-yoga';
import { backoffDelay, sleep } from '../../protocol/backoff.js';
import { formatError, formatResult, isStreamError } from '../format.js';
import { logId } from '../ids.js';
import type { PushSender } from '../push/index.js';
import type { GroupMessage, GroupRecord, RetentionOptions, Store } from '../store/types.js';
import type { Delivery } from './delivery.js';

/** Options of {@link createGroupRunner}. */
export interface GroupRunnerOptions {
  store: Store;
  /** Paces the runner: it reads a group's next event only when the sender is ready. */
  sender: Pick<PushSender, 'ready'>;
  delivery: Delivery;
  /** How long and how many messages each group's log keeps. */
  retention: RetentionOptions;
  logger: YogaLogger;
  /**
   * Asked when an append is refused as fenced: the token to try again with, when the group is
   * still this instance's under a newer token of its own lease (it was taken again after a
   * lapse), else `null` (another instance runs it now: stop here).
   * @defaultValue always `null`
   */
  reclaim?: (group: GroupRecord) => Promise<number | null>;
  /**
   * First wait before retrying an append the store refused with an exception.
   * @defaultValue `100`
   */
  retryBaseMs?: number;
  /**
   * Longest wait between append retries.
   * @defaultValue `5_000`
   */
  retryMaxMs?: number;
}

/** Options of {@link GroupRunner.start}. */
export interface GroupStartOptions {
  /**
   * Position in the durable event log after the event behind the result being appended
   * (`CursorTracker.current`); stored with each append, in the same atomic step, so that an
   * instance that adopts the group resumes right after it.
   */
  eventCursor?: () => string | null;
}

/** The execution groups running on this instance. */
export interface GroupRunner {
  /**
   * Starts consuming a group's result stream: each result is appended once to the group's log
   * (under the group's token) and delivered to its members.
   */
  start(
    group: GroupRecord,
    iterator: AsyncIterator<ExecutionResult>,
    options?: GroupStartOptions,
  ): void;
  /** The group running here under `key` that new members may join, if any. */
  byKey(key: string): GroupRecord | undefined;
  /** Closes a group's stream (its resolver's `return` runs); appends nothing more. */
  stop(groupId: string): Promise<void>;
  /** The token a running group appends under now (after this instance's lease was renewed). */
  retoken(groupId: string, token: number): void;
  /** The token a running group appends under, if it runs here. */
  tokenOf(groupId: string): number | undefined;
  /**
   * Stops and deletes a group that has no member left; keeps it running when one joined
   * meanwhile.
   * @returns true when it was deleted
   */
  retire(groupId: string): Promise<boolean>;
  /** True while the group's stream runs here. */
  isRunning(groupId: string): boolean;
  /** Ids of the groups running here. */
  running(): string[];
  /** Groups running here. */
  readonly size: number;
  /** Stops every stream and waits for appends under way. Deliveries under way go on. */
  close(): Promise<void>;
  /** Resolves when every delivery started so far has settled. */
  settled(): Promise<void>;
}

interface Run {
  group: GroupRecord;
  iterator: AsyncIterator<ExecutionResult>;
  eventCursor: (() => string | null) | undefined;
  /** Aborted when the group stops here: ends retry waits at once. */
  stop: AbortController;
  /** False while it is being retired: new members start another group. */
  joinable: boolean;
}

const MASKED_MESSAGE = 'Unexpected error.';
const EVENT_ID = /^(\d+)-\d+$/;

/** When the event behind a cursor was published: event ids start with their epoch ms. */
function publishedAt(cursor: string | null | undefined, fallback: number): number {
  const match = cursor ? EVENT_ID.exec(cursor) : null;
  const at = match ? Number(match[1]) : Number.NaN;
  return Number.isFinite(at) && at <= fallback ? at : fallback;
}

/**
 * Creates the runner of execution groups.
 *
 * @param options - store, sender, delivery, retention; see {@link GroupRunnerOptions}
 * @returns the runner
 * @remarks For each result: wait until the sender has room (backpressure: a group publishing
 * faster than the push services take its messages waits here instead of piling them up), append
 * it to the group's log (the next result is not read before the append finished, so a store
 * that is away loses nothing: the event waits in the stream), then deliver without waiting, so
 * deliveries of one group may overlap; the link restores their order. A group whose delivery
 * finds no member left is retired. An append refused as `fenced` (another instance claimed the
 * group) or `gone` stops the group here.
 */
export function createGroupRunner(options: GroupRunnerOptions): GroupRunner {
  const {
    store,
    sender,
    delivery,
    retention,
    logger,
    reclaim = async () => null,
    retryBaseMs = 100,
    retryMaxMs = 5_000,
  } = options;
  const runs = new Map<string, Run>();
  const byKey = new Map<string, Run>();
  const loops = new Set<Promise<void>>();
  const deliveries = new Set<Promise<void>>();

  const track = (work: Promise<void>, into: Set<Promise<void>>): void => {
    into.add(work);
    void work.finally(() => into.delete(work));
  };

  const forget = (run: Run): boolean => {
    if (runs.get(run.group.id) !== run) return false;
    runs.delete(run.group.id);
    if (byKey.get(run.group.key) === run) byKey.delete(run.group.key);
    run.stop.abort();
    return true;
  };

  const stopRun = async (run: Run): Promise<void> => {
    if (!forget(run)) return;
    try {
      await run.iterator.return?.();
    } catch (error) {
      logger.debug('graphql-web-push: closing a subscription stream failed', error);
    }
  };

  const retire = async (groupId: string): Promise<boolean> => {
    const run = runs.get(groupId);
    if (run) {
      if (!run.joinable) return false;
      run.joinable = false;
      if (byKey.get(run.group.key) === run) byKey.delete(run.group.key);
    }
    let deleted = false;
    try {
      deleted = await store.deleteGroup(groupId);
    } catch (error) {
      logger.warn('graphql-web-push: deleting an empty group failed', error);
    }
    if (!run) return deleted;
    if (deleted) {
      await stopRun(run);
      return true;
    }
    // A member joined meanwhile (or the store is away): it goes on.
    if (runs.get(groupId) === run) {
      run.joinable = true;
      if (!byKey.has(run.group.key)) byKey.set(run.group.key, run);
    }
    return false;
  };

  /** Appends, retrying while the store throws; the seq, or null when the group cannot take more. */
  const append = async (run: Run, message: GroupMessage): Promise<number | null> => {
    const { group } = run;
    // One id for every try of this append: a try that landed although it seemed to fail (its
    // answer was lost) is not appended a second time.
    const appendId = randomBytes(9).toString('base64url');
    for (let attempt = 1; ; attempt += 1) {
      if (run.stop.signal.aborted) return null;
      try {
        const cursor = run.eventCursor?.() ?? null;
        const appended = await store.appendGroupMessage(group.id, message, retention, {
          token: group.token,
          appendId,
          ...(cursor === null ? {} : { cursor }),
        });
        if (appended.ok) return appended.seq;
        if (appended.reason === 'fenced') {
          const token = await reclaim(group);
          if (token !== null && token !== group.token) {
            // Still ours, under this instance's newer token: the same append, once more.
            group.token = token;
            continue;
          }
          logger.debug(
            `graphql-web-push: group ${logId(group.id)} runs elsewhere now; stopped here`,
          );
        }
        return null;
      } catch (error) {
        // The event is not lost while we wait: the stream is not read until the append succeeds.
        logger.error('graphql-web-push: appending a message failed; retrying', error);
        await sleep(
          backoffDelay(attempt, { baseMs: retryBaseMs, maxMs: retryMaxMs }),
          run.stop.signal,
        );
      }
    }
  };

  const deliver = (run: Run, seq: number, message: GroupMessage, at: number): void => {
    const { id } = run.group;
    track(
      delivery
        .deliver(id, seq, message, at)
        .then(async (report) => {
          if (report.members === 0) await retire(id);
        })
        .catch((error) => logger.error('graphql-web-push: delivering a message failed', error)),
      deliveries,
    );
  };

  const loop = async (run: Run): Promise<void> => {
    const live = () => runs.get(run.group.id) === run;
    for (;;) {
      await sender.ready?.();
      if (!live()) return;
      let step: IteratorResult<ExecutionResult>;
      let message: GroupMessage;
      try {
        step = await run.iterator.next();
        if (!live()) return;
        if (step.done) message = { type: 'complete' };
        else if (isStreamError(step.value)) {
          message = { type: 'error', payload: { errors: formatResult(step.value).errors } };
        } else message = { type: 'next', payload: formatResult(step.value) };
      } catch (error) {
        if (!live()) return;
        logger.error('graphql-web-push: a subscription stream failed', error);
        // Hide what is not a GraphQL error, as Yoga's error masking would.
        message = {
          type: 'error',
          payload: { errors: [formatError(maskError(error, MASKED_MESSAGE))] },
        };
      }
      const at = publishedAt(run.eventCursor?.(), Date.now());
      const seq = await append(run, message);
      if (seq === null) break;
      deliver(run, seq, message, at);
      if (message.type !== 'next') break;
    }
    await stopRun(run);
  };

  return {
    start(group, iterator, { eventCursor } = {}) {
      const run: Run = {
        group,
        iterator,
        eventCursor,
        stop: new AbortController(),
        joinable: !group.done,
      };
      const previous = runs.get(group.id);
      if (previous) void stopRun(previous);
      runs.set(group.id, run);
      if (run.joinable) byKey.set(group.key, run);
      track(
        loop(run).catch((error) =>
          logger.error('graphql-web-push: a group stopped unexpectedly', error),
        ),
        loops,
      );
    },
    byKey(key) {
      const run = byKey.get(key);
      return run?.joinable ? run.group : undefined;
    },
    async stop(groupId) {
      const run = runs.get(groupId);
      if (run) await stopRun(run);
    },
    retire,
    retoken(groupId, token) {
      const run = runs.get(groupId);
      if (run) run.group.token = token;
    },
    tokenOf: (groupId) => runs.get(groupId)?.group.token,
    isRunning: (groupId) => runs.has(groupId),
    running: () => [...runs.keys()],
    get size() {
      return runs.size;
    },
    async close() {
      await Promise.all([...runs.values()].map(stopRun));
      await Promise.all([...loops]);
    },
    async settled() {
      await Promise.all([...deliveries]);
    },
  };
}
