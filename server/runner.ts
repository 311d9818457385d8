import { createHash, randomBytes } from 'node:crypto';
import type { ExecutionResult } from 'graphql';
import { maskError, type YogaLogger } from 'graphql-yoga';
import {
  type Envelope,
  type EnvelopeType,
  envelopeId,
  PROTOCOL_VERSION,
} from '../protocol/index.js';
import { type FormattedResult, formatError, formatResult, isStreamError } from './format.js';
import { logId } from './ids.js';
import type { PushSender } from './push/index.js';
import type { RegistrationRecord, RetentionOptions, Store } from './store/types.js';
import { appendSignal } from './stream/signals.js';

/** Options of {@link createRunner}. */
export interface RunnerOptions {
  store: Store;
  sender: PushSender;
  /** How long and how many messages each registration's log keeps. */
  retention: RetentionOptions;
  /** Largest plaintext sent inline; larger envelopes go as `ref`. */
  maxPayloadBytes: number;
  /**
   * Longest TTL of a push message at the push service; a registration's messages never outlive
   * it (a message for a registration that expired is of no use).
   */
  ttlSeconds: number;
  /**
   * Send pushes with a per-registration `Topic`.
   * @defaultValue true
   */
  topics?: boolean;
  logger: YogaLogger;
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

/** Options of {@link Runner.startRegistration}. */
export interface StartOptions {
  /** Fencing token of this instance's lease on the registration, passed to every append. */
  fencingToken?: number;
  /**
   * Position in the durable event log after the event behind the result being appended
   * (`CursorTracker.current`); stored with each append, in the same atomic step, so that an
   * instance that adopts the registration resumes right after it. `null` keeps the stored cursor.
   */
  eventCursor?: () => string | null;
}

/**
 * Turns the results of registrations' server-side subscriptions into logged and pushed envelopes.
 */
export interface Runner {
  /**
   * Starts consuming a registration's result stream. The registration must already be stored.
   * Everything the runner knows about it is kept in the runner, keyed by registration id, so that
   * a registration adopted from its stored record starts the same way as a new one.
   */
  startRegistration(
    record: RegistrationRecord,
    iterator: AsyncIterator<ExecutionResult>,
    options?: StartOptions,
  ): void;
  /** Closes a registration's stream (its resolver's `return` runs); appends nothing more. */
  stopRegistration(registrationId: string): Promise<void>;
  /** Ids of registrations whose streams run here. */
  running(): string[];
  /** True while the registration's stream runs here. */
  isRunning(registrationId: string): boolean;
  /**
   * Stops every stream and waits for appends under way. Sends under way go on: closing the
   * sender ends them quickly, see {@link Runner.settled}.
   */
  close(): Promise<void>;
  /** Resolves when every send started so far has settled. */
  settled(): Promise<void>;
}

interface Entry {
  record: RegistrationRecord;
  iterator: AsyncIterator<ExecutionResult>;
  fencingToken: number | undefined;
  eventCursor: (() => string | null) | undefined;
  /** Aborted when the registration stops: ends retry waits at once. */
  stop: AbortController;
}

const MASKED_MESSAGE = 'Unexpected error.';
const encoder = new TextEncoder();
const encode = (envelope: Envelope): Uint8Array => encoder.encode(JSON.stringify(envelope));
const asRef = ({ v, id, tab, reg, seq }: Envelope): Envelope => ({
  v,
  id,
  tab,
  reg,
  seq,
  type: 'ref',
});

/**
 * The `Topic` of a registration's pushes: a newer push replaces an undelivered older one at the
 * push service, so at most one waits there per registration (autopush drops a browser with ~150
 * stored messages; the log holds them all anyway). Derived by a hash: the id is a secret.
 */
const topicOf = (registrationId: string): string =>
  createHash('sha256').update(registrationId).digest('base64url').slice(0, 32);

const wait = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });

/**
 * Creates the runner of server-side subscriptions.
 *
 * @param options - store, sender, retention and limits
 * @returns the {@link Runner}
 * @remarks For each result: append to the log (in order per registration: the next result is
 * not read before the append finished), then deliver without waiting, so deliveries of one
 * registration may overlap; the link restores their order. Delivery is a push, or a signal to the
 * tab's stream; a result too big for one push goes as `ref`. A `gone` endpoint deletes the push
 * subscription, and its registrations go on over the stream; a failed send stays in the log for
 * the tab to fetch.
 */
export function createRunner(options: RunnerOptions): Runner {
  const {
    store,
    sender,
    retention,
    maxPayloadBytes,
    ttlSeconds,
    topics = true,
    logger,
    retryBaseMs = 100,
    retryMaxMs = 5_000,
  } = options;
  const entries = new Map<string, Entry>();
  const loops = new Set<Promise<void>>();
  const sends = new Set<Promise<void>>();

  const closeIterator = async (entry: Entry): Promise<void> => {
    try {
      await entry.iterator.return?.();
    } catch (error) {
      logger.debug('graphql-web-push: closing a subscription stream failed', error);
    }
  };

  const stopEntry = async (entry: Entry): Promise<void> => {
    if (entries.get(entry.record.id) !== entry) return;
    entries.delete(entry.record.id);
    entry.stop.abort();
    await closeIterator(entry);
  };

  const stopRegistration = async (registrationId: string): Promise<void> => {
    const entry = entries.get(registrationId);
    if (entry) await stopEntry(entry);
  };

  /**
   * Delivers an appended envelope the way its registration is reached right now (read at send
   * time: a tab may have moved it, hidden itself, or lost its push subscription): a signal that
   * wakes the tab's stream; nothing while a hidden tab holds its pushes (the log has it); or a
   * push. A push subscription the push service calls gone is deleted, and its registrations go
   * on over their tabs' streams.
   */
  const deliver = async (envelope: Envelope): Promise<void> => {
    const registration = await store.getRegistration(envelope.reg);
    if (!registration) return;
    const wake = () => store.signal(registration.tabId, appendSignal(envelope.reg, envelope.seq));
    if (registration.subscriptionId === null) return wake();
    if (registration.held && !registration.background) return;
    const subscription = await store.getSubscription(registration.subscriptionId);
    if (!subscription) return wake();
    const target = { endpoint: subscription.endpoint, keys: subscription.keys };
    const lifetime = Math.floor((registration.expiresAt - Date.now()) / 1000);
    const options = {
      ttlSeconds: Math.max(0, Math.min(ttlSeconds, lifetime)),
      ...(topics ? { topic: topicOf(registration.id) } : {}),
    };
    const full = encode(envelope);
    const inline = full.byteLength <= maxPayloadBytes;
    let result = await sender.send(target, inline ? full : encode(asRef(envelope)), options);
    if (!result.ok && result.reason === 'too-large' && inline) {
      // The push service's limit is below ours: the tab fetches the payload instead.
      result = await sender.send(target, encode(asRef(envelope)), options);
    }
    if (result.ok) return;
    if (result.reason === 'gone') {
      const detached = await store.deleteSubscription(subscription.id);
      // A tab that already opened its stream reads on there.
      await Promise.all(
        detached.map((record) => store.signal(record.tabId, appendSignal(record.id, record.seq))),
      );
      return;
    }
    // The message stays in the log; the tab notices the gap and fetches it.
    logger.debug(
      `graphql-web-push: push ${logId(envelope.reg)}:${envelope.seq} not delivered (${result.reason}, status ${result.status})`,
    );
  };

  const track = (work: Promise<void>, into: Set<Promise<void>>): void => {
    into.add(work);
    void work.finally(() => into.delete(work));
  };

  /** Appends, retrying while the store throws; false when the registration cannot take more. */
  const append = async (entry: Entry, type: EnvelopeType, payload?: unknown): Promise<boolean> => {
    const { record } = entry;
    const build = (seq: number): Envelope => {
      const envelope: Envelope = {
        v: PROTOCOL_VERSION,
        id: envelopeId(record.id, seq),
        tab: record.tabId,
        reg: record.id,
        seq,
        type,
      };
      if (payload !== undefined) envelope.payload = payload;
      return envelope;
    };
    // One id for every try of this append: a try that landed although it seemed to fail (its
    // answer was lost) is not appended a second time.
    const appendId = randomBytes(9).toString('base64url');
    for (let attempt = 0; ; attempt += 1) {
      if (entry.stop.signal.aborted) return false;
      try {
        const cursor = entry.eventCursor?.() ?? null;
        const appended = await store.appendMessage(record.id, build, retention, {
          fencingToken: entry.fencingToken,
          appendId,
          ...(cursor === null ? {} : { cursor }),
        });
        if (!appended.ok) {
          if (appended.reason === 'fenced') {
            logger.debug(`graphql-web-push: ${logId(record.id)} runs elsewhere now; stopped here`);
          }
          return false;
        }
        track(
          deliver(appended.envelope).catch((error) =>
            logger.error('graphql-web-push: delivering a message failed', error),
          ),
          sends,
        );
        return true;
      } catch (error) {
        // The event is not lost while we wait: the stream is not read until the append succeeds.
        logger.error('graphql-web-push: appending a message failed; retrying', error);
        await wait(Math.min(retryMaxMs, retryBaseMs * 2 ** attempt), entry.stop.signal);
      }
    }
  };

  const run = async (entry: Entry): Promise<void> => {
    const live = () => entries.get(entry.record.id) === entry;
    for (;;) {
      let step: IteratorResult<ExecutionResult>;
      try {
        step = await entry.iterator.next();
      } catch (error) {
        if (!live()) return;
        logger.error('graphql-web-push: a subscription stream failed', error);
        // Hide what is not a GraphQL error, as Yoga's error masking would.
        await append(entry, 'error', { errors: [formatError(maskError(error, MASKED_MESSAGE))] });
        break;
      }
      if (!live()) return;
      if (step.done) {
        await append(entry, 'complete');
        break;
      }
      if (isStreamError(step.value)) {
        await append(entry, 'error', { errors: formatResult(step.value).errors });
        break;
      }
      const payload: FormattedResult = formatResult(step.value);
      if (!(await append(entry, 'next', payload))) break;
    }
    await stopEntry(entry);
  };

  return {
    startRegistration(record, iterator, { fencingToken, eventCursor } = {}) {
      const entry: Entry = {
        record,
        iterator,
        fencingToken,
        eventCursor,
        stop: new AbortController(),
      };
      const previous = entries.get(record.id);
      if (previous) void stopEntry(previous);
      entries.set(record.id, entry);
      track(
        run(entry).catch((error) =>
          logger.error('graphql-web-push: a registration stopped unexpectedly', error),
        ),
        loops,
      );
    },
    stopRegistration,
    running: () => [...entries.keys()],
    isRunning: (registrationId) => entries.has(registrationId),
    async close() {
      await Promise.all([...entries.keys()].map(stopRegistration));
      await Promise.all([...loops]);
    },
    async settled() {
      await Promise.all([...sends]);
    },
  };
}
