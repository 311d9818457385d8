import type { Envelope } from '../protocol/index.js';

/** Options of {@link createSequencer}. */
export interface SequencerOptions {
  /**
   * Last `seq` already handed on (0 for a new registration).
   * @defaultValue 0
   */
  lastSeq?: number;
  /**
   * Most envelopes held while waiting for an earlier one; past it the farthest ahead is dropped
   * (it can be fetched again from the log).
   * @defaultValue 1000
   */
  maxHeld?: number;
}

/** What became of an offered envelope. */
export type OfferStatus =
  /** It, and maybe held ones after it, are ready in `ready`. */
  | 'ready'
  /** Kept until the seqs before it (or its payload, for a `ref`) arrive. */
  | 'held'
  /** Already handed on, or already held. */
  | 'duplicate'
  /** Dropped because too many are held; it is farther ahead than all others. */
  | 'overflow'
  /** The stream already ended with `complete` or `error`. */
  | 'done';

/** Result of {@link Sequencer.offer} and {@link Sequencer.skipMissing}. */
export interface OfferResult {
  status: OfferStatus;
  /** Envelopes to hand on now, strictly in seq order, each seq once. */
  ready: Envelope[];
}

/**
 * Puts one registration's envelopes back in order. Pure: no timers, no I/O.
 * `ref` envelopes (payload too big for a push) are held as placeholders: they block the stream
 * until the same seq arrives with its payload from the message log.
 */
export interface Sequencer {
  /** Last seq handed on. */
  readonly lastSeq: number;
  /** Highest seq known to exist (seen, or reported by the server). */
  readonly target: number;
  /** Envelopes held, placeholders included. */
  readonly held: number;
  /** True after a `complete` or `error` was handed on. */
  readonly done: boolean;
  /** Offers an envelope of this registration. */
  offer(envelope: Envelope): OfferResult;
  /** Records that the server has used seqs up to `seq`. */
  noteSeq(seq: number): void;
  /** True when some seq after `lastSeq` is known to exist but cannot be handed on yet. */
  hasGap(): boolean;
  /** True when a `ref` placeholder is held: its payload must be fetched. */
  hasRef(): boolean;
  /**
   * Gives up on seqs before `firstAvailable` that are not held (the log no longer has them);
   * held ones among them are still handed on, in order.
   * @returns status `ready` with what can now be handed on; `held` when nothing could.
   */
  skipMissing(firstAvailable: number): OfferResult & { skipped: number };
}

/**
 * Creates a {@link Sequencer}.
 * @param options - see {@link SequencerOptions}.
 * @returns the sequencer.
 */
export function createSequencer({ lastSeq = 0, maxHeld = 1000 }: SequencerOptions = {}): Sequencer {
  let last = lastSeq;
  let target = lastSeq;
  let done = false;
  let refs = 0;
  const held = new Map<number, Envelope>();

  const remove = (seq: number): void => {
    if (held.get(seq)?.type === 'ref') refs--;
    held.delete(seq);
  };

  const drain = (ready: Envelope[]): Envelope[] => {
    while (!done) {
      const next = held.get(last + 1);
      if (!next || next.type === 'ref') break;
      remove(next.seq);
      last = next.seq;
      ready.push(next);
      if (next.type === 'complete' || next.type === 'error') {
        done = true;
        held.clear();
        refs = 0;
      }
    }
    return ready;
  };

  const result = (ready: Envelope[]): OfferResult => ({
    status: ready.length > 0 ? 'ready' : 'held',
    ready,
  });

  return {
    get lastSeq() {
      return last;
    },
    get target() {
      return target;
    },
    get held() {
      return held.size;
    },
    get done() {
      return done;
    },
    offer(envelope) {
      if (done) return { status: 'done', ready: [] };
      const { seq } = envelope;
      if (seq <= last) return { status: 'duplicate', ready: [] };
      const existing = held.get(seq);
      if (existing && (existing.type !== 'ref' || envelope.type === 'ref')) {
        return { status: 'duplicate', ready: [] };
      }
      remove(seq);
      held.set(seq, envelope);
      if (envelope.type === 'ref') refs++;
      if (seq > target) target = seq;
      const ready = drain([]);
      if (held.size > maxHeld) {
        const farthest = Math.max(...held.keys());
        remove(farthest);
        if (farthest === seq) return { status: 'overflow', ready };
      }
      return result(ready);
    },
    noteSeq(seq) {
      if (!done && seq > target) target = seq;
    },
    hasGap() {
      return !done && target > last;
    },
    hasRef() {
      return refs > 0;
    },
    skipMissing(firstAvailable) {
      let skipped = 0;
      const ready: Envelope[] = [];
      while (!done && last + 1 < firstAvailable) {
        const next = held.get(last + 1);
        if (next && next.type !== 'ref') {
          drain(ready);
          continue;
        }
        remove(last + 1);
        last++;
        skipped++;
        drain(ready);
      }
      if (last > target) target = last;
      return { ...result(ready), skipped };
    },
  };
}
