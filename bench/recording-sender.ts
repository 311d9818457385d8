/**
 * A `PushSender` that wraps the real one and tells the bench when an event's pushes are all
 * answered, without polling: the CPU time of a fan-out is read in the callback of its last
 * answer, so nothing the bench does while waiting is counted. Answers are counted where the
 * real sender reports them to its telemetry (the shared one, which it uses anyway), not with a
 * callback per push on the promise `send` returns: that cost the server's process a promise
 * reaction and a microtask per push that a server without the bench does not pay.
 */
import type { PushSender, PushTarget, SendOptions } from '../server/push/index.js';
import {
  type ListeningSender,
  listeningSend,
  SEND_WITH_LISTENER,
} from '../server/push/send-listener.js';
import { sharedTelemetry, type Telemetry } from '../server/telemetry.js';
import { cpuSince, type ThreadSplit, threadCpuNs, threadSplitSince } from './child.js';

/** One push as the server handed it to the sender, kept to send the same pushes by hand. */
export interface CapturedPush {
  target: PushTarget;
  plaintext: Buffer;
  options: SendOptions;
}

/** What one event's pushes cost, from the publish until the last answer. */
export interface EventCost {
  /** CPU time of the whole process (all threads), microseconds. */
  cpuUs: number;
  wallMs: number;
  /** From the publish until the first push was answered. */
  firstMs: number;
  /** Pushes sent (a batch counts once). */
  pushes: number;
  /** Pushes that did not end in 2xx. */
  failed: number;
  /** Plaintext bytes of all pushes. */
  bytes: number;
  /** `cpuUs` by thread. */
  threads: ThreadSplit;
}

interface Round {
  expect: number;
  capture: boolean;
  started: number;
  settled: number;
  failed: number;
  bytes: number;
  cpu: NodeJS.CpuUsage;
  threads: Map<number, number>;
  at: number;
  firstAt: number | undefined;
  captured: CapturedPush[];
  done(cost: EventCost): void;
}

/** The wrapped sender and the bench's handle on it. */
export interface RecordingSender {
  sender: Required<PushSender> & ListeningSender;
  /**
   * Starts counting, then calls `publish`; resolves once at least `expect` pushes were sent and
   * every push sent since was answered.
   */
  measure(publish: () => void, options: { expect: number; capture?: boolean }): Promise<EventCost>;
  /** The pushes of the last round measured with `capture`. */
  captured(): CapturedPush[];
}

/**
 * Wraps the sender `make` creates with the telemetry it is given.
 * @param make - creates the sender the plugin would use, with this telemetry
 * @returns the wrapper (give `sender` to `useWebPush`) and its handle
 */
export function createRecordingSender(
  make: (telemetry: Telemetry) => Required<PushSender>,
): RecordingSender {
  let round: Round | undefined;
  let lastCaptured: CapturedPush[] = [];

  const settle = (current: Round, ok: boolean): void => {
    current.settled += 1;
    if (!ok) current.failed += 1;
    current.firstAt ??= performance.now();
    if (current.settled < current.expect || current.settled !== current.started) return;
    const cpuUs = cpuSince(current.cpu);
    const threads = threadSplitSince(current.threads);
    const now = performance.now();
    round = undefined;
    if (current.capture) lastCaptured = current.captured;
    current.done({
      cpuUs,
      wallMs: now - current.at,
      firstMs: current.firstAt - current.at,
      pushes: current.started,
      failed: current.failed,
      bytes: current.bytes,
      threads,
    });
  };

  const shared = sharedTelemetry();
  const inner = make({
    ...shared,
    pushSent(attributes) {
      shared.pushSent(attributes);
      if (round) settle(round, true);
    },
    pushFailed(attributes) {
      shared.pushFailed(attributes);
      if (round) settle(round, false);
    },
  });

  const sendWith = listeningSend(inner);
  if (sendWith === undefined) throw new Error('bench: the sender has no listener form');

  /** Counts a push the server hands over (and keeps it, when capturing). */
  const started = (target: PushTarget, plaintext: Uint8Array, options: SendOptions): void => {
    const current = round;
    if (!current) return;
    current.started += 1;
    current.bytes += plaintext.byteLength;
    if (current.capture) {
      current.captured.push({ target, plaintext: Buffer.from(plaintext), options });
    }
  };

  // Both forms, as the real sender has them: the server's delivery uses the listener form.
  const sender: Required<PushSender> & ListeningSender = {
    send(target, plaintext, options) {
      started(target, plaintext, options);
      return inner.send(target, plaintext, options);
    },
    [SEND_WITH_LISTENER](target, plaintext, options, listener, tag) {
      started(target, plaintext, options);
      sendWith(target, plaintext, options, listener, tag);
    },
    ready: () => inner.ready(),
    get pending() {
      return inner.pending;
    },
    close: () => inner.close(),
  };

  return {
    sender,
    measure(publish, { expect, capture = false }) {
      if (round) throw new Error('bench: a round is still being measured');
      return new Promise((resolve) => {
        round = {
          expect,
          capture,
          started: 0,
          settled: 0,
          failed: 0,
          bytes: 0,
          captured: [],
          firstAt: undefined,
          done: resolve,
          threads: threadCpuNs(),
          cpu: process.cpuUsage(),
          at: performance.now(),
        };
        publish();
      });
    },
    captured: () => lastCaptured,
  };
}
