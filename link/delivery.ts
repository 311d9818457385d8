import { backoffDelay } from '../protocol/backoff.js';
import type { Envelope, MessagesResponse } from '../protocol/index.js';
import type { LinkResult } from './errors.js';
import { createSequencer, type OfferResult, type OfferStatus } from './sequencer.js';

/** Options of {@link createDelivery}. */
export interface DeliveryOptions {
  registrationId: string;
  /** Last seq already handed to the app. */
  lastSeq: number;
  /** Bound of the sequencer's held envelopes. */
  maxHeld: number;
  /** How long a gap may stay open before the log is asked for the missing seqs. */
  gapWaitMs: number;
  /**
   * Ceiling of every wait between retries of a failed or fruitless log fetch.
   * @defaultValue 30_000
   */
  maxRetryMs?: number;
  /** `GET .../messages?after=…` for this registration. */
  fetchAfter(after: number): Promise<LinkResult<MessagesResponse>>;
  /** True for message ids already handed on (before a reload, say): they are passed over. */
  isDuplicate(id: string): boolean;
  /** Called with each envelope in seq order, each seq at most once. */
  onEnvelope(envelope: Envelope): void;
  /** Called when seqs were given up because the log no longer has them. */
  onSkip?(count: number): void;
}

/** Delivery state of one registration, for debugging. */
export interface DeliverySnapshot {
  registrationId: string;
  lastSeq: number;
  target: number;
  held: number;
  done: boolean;
  /** Seqs given up because the log had dropped them. */
  skipped: number;
}

/** One registration's way from envelopes in any order to envelopes in seq order. */
export interface Delivery {
  readonly registrationId: string;
  /** Last seq handed on. */
  readonly lastSeq: number;
  /** Offers an envelope of this registration (from a push or from the log). */
  offer(envelope: Envelope): OfferStatus;
  /**
   * The server says it has used seqs up to `seq`. With `now` (a resume after a reload: those
   * pushes went to nobody) the ones after `lastSeq` are fetched at once; with `after-gap-wait`
   * (a renewal: their pushes may still be on their way) like any gap, after `gapWaitMs`.
   * @defaultValue `now`
   */
  noteServerSeq(seq: number, when?: 'now' | 'after-gap-wait'): void;
  /** Stops timers and fetches; nothing is handed on afterwards. */
  close(): void;
  snapshot(): DeliverySnapshot;
}

/** Upper bound on log pages fetched in one go, so a misbehaving server cannot spin us. */
const MAX_PAGES = 1000;

/**
 * Creates a {@link Delivery}: a sequencer plus the timers and log fetches that close its gaps.
 * @param options - see {@link DeliveryOptions}.
 * @returns the delivery.
 * @remarks A gap (a later seq seen before an earlier one) waits `gapWaitMs` for the push
 * service to deliver the missing message, since pushes may simply be reordered; then the log is
 * fetched. Seqs a renewal reports wait the same way (`after-gap-wait`): a busy registration
 * almost always has pushes in flight when it renews. A `ref` envelope, or seqs reported with
 * `now` (a resume after a reload), fetch at once. Failed or fruitless fetches retry with
 * exponential backoff and full jitter, from twice the gap wait (at least 200 ms) up to
 * `maxRetryMs`: the tabs of a server that failed them all at once come back spread out.
 */
export function createDelivery({
  registrationId,
  lastSeq,
  maxHeld,
  gapWaitMs,
  maxRetryMs = 30_000,
  fetchAfter,
  isDuplicate,
  onEnvelope,
  onSkip,
}: DeliveryOptions): Delivery {
  const sequencer = createSequencer({ lastSeq, maxHeld });
  let closed = false;
  let fetching = false;
  let again = false;
  let failures = 0;
  let skipped = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const clearTimer = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };

  const handOn = ({ ready }: OfferResult): void => {
    for (const envelope of ready) {
      if (closed) return;
      if (!isDuplicate(envelope.id)) onEnvelope(envelope);
    }
  };

  const check = (now = false): void => {
    if (closed || !sequencer.hasGap()) {
      clearTimer();
      if (!sequencer.hasGap()) failures = 0;
      return;
    }
    if (fetching) {
      again ||= now || sequencer.hasRef();
      return;
    }
    if (now || (sequencer.hasRef() && failures === 0)) {
      clearTimer();
      void fetchLog();
      return;
    }
    if (timer === undefined) {
      const delay =
        failures === 0
          ? gapWaitMs
          : backoffDelay(failures, { baseMs: 2 * Math.max(gapWaitMs, 100), maxMs: maxRetryMs });
      timer = setTimeout(() => {
        timer = undefined;
        void fetchLog();
      }, delay);
    }
  };

  const fetchLog = async (): Promise<void> => {
    fetching = true;
    again = false;
    let progressed = true;
    try {
      for (let page = 0; page < MAX_PAGES && !closed && sequencer.hasGap(); page++) {
        const after = sequencer.lastSeq;
        const result = await fetchAfter(after);
        if (closed) return;
        if (!result.ok) {
          progressed = false;
          break;
        }
        const { envelopes, lastSeq: serverSeq } = result.value;
        sequencer.noteSeq(serverSeq);
        const available = envelopes.filter((e) => e.seq > after).sort((a, b) => a.seq - b.seq);
        // The log starts after the seq we need (trimmed by TTL or count): those are lost.
        const firstAvailable = available[0]?.seq ?? serverSeq + 1;
        if (firstAvailable > after + 1) {
          const skip = sequencer.skipMissing(firstAvailable);
          if (skip.skipped > 0) {
            skipped += skip.skipped;
            onSkip?.(skip.skipped);
          }
          handOn(skip);
        }
        for (const envelope of available) handOn(sequencer.offer(envelope));
        if (sequencer.lastSeq === after) {
          progressed = false;
          break;
        }
      }
    } finally {
      fetching = false;
    }
    if (closed) return;
    failures = progressed ? 0 : failures + 1;
    const now = again;
    again = false;
    check(now);
  };

  return {
    registrationId,
    get lastSeq() {
      return sequencer.lastSeq;
    },
    offer(envelope) {
      if (closed) return 'done';
      const result = sequencer.offer(envelope);
      handOn(result);
      check();
      return result.status;
    },
    noteServerSeq(seq, when = 'now') {
      if (closed || seq <= sequencer.lastSeq) return;
      sequencer.noteSeq(seq);
      check(when === 'now');
    },
    close() {
      closed = true;
      clearTimer();
    },
    snapshot() {
      return {
        registrationId,
        lastSeq: sequencer.lastSeq,
        target: sequencer.target,
        held: sequencer.held,
        done: sequencer.done,
        skipped,
      };
    },
  };
}
