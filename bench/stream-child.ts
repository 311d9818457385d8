/**
 * The parent's side of `stream-server.ts`: a bench child (`child.ts`) with the stream suites'
 * requests and a clock comparison.
 */
import { fileURLToPath } from 'node:url';
import { startBenchChild } from './child.js';

/** What the parent asks the child server. */
export type BenchRequest =
  | { id: number; op: 'publish'; topic: string; n: number }
  | { id: number; op: 'clock' }
  | { id: number; op: 'heap' };

type Op = BenchRequest['op'];
type Args<O extends Op> = Omit<Extract<BenchRequest, { op: O }>, 'id' | 'op'>;

/**
 * Milliseconds since the epoch with sub-millisecond resolution. Both processes read the same
 * machine clock; `Date.now()` alone would round every latency to a whole millisecond.
 */
export const clockMs = (): number => performance.timeOrigin + performance.now();

/** A running child server. */
export interface BenchServer {
  /** `http://127.0.0.1:PORT/graphql`. */
  url: string;
  /** Asks the child; resolves with its answer. */
  ask<O extends Op>(op: O, args?: Args<O>): Promise<unknown>;
  /** Fires a request without waiting for the answer. */
  tell<O extends Op>(op: O, args?: Args<O>): void;
  /** The child's heap after full collections, in bytes. */
  heap(): Promise<number>;
  /**
   * The child's clock minus this process's, estimated from the quickest of `samples` round
   * trips (the answer is assumed to be read halfway through it).
   */
  clockOffset(samples?: number): Promise<{ offsetMs: number; roundTripMs: number }>;
  stop(): Promise<void>;
}

const ENTRY = fileURLToPath(new URL('./stream-server.ts', import.meta.url));

/**
 * Starts `stream-server.ts` with `--expose-gc` under `tsx`.
 * @returns the server, once it listens
 */
export async function startBenchServer(): Promise<BenchServer> {
  const child = await startBenchChild<number>(ENTRY);
  const ask: BenchServer['ask'] = (op, args) => child.ask(op, args);
  return {
    url: `http://127.0.0.1:${child.ready}/graphql`,
    ask,
    tell: (op, args) => child.tell(op, args),
    heap: async () => Number(await ask('heap')),
    async clockOffset(samples = 50) {
      let best = { offsetMs: 0, roundTripMs: Number.POSITIVE_INFINITY };
      for (let i = 0; i < samples; i++) {
        const sent = clockMs();
        const theirs = Number(await ask('clock'));
        const received = clockMs();
        const roundTripMs = received - sent;
        if (roundTripMs < best.roundTripMs) {
          best = { offsetMs: theirs - (sent + received) / 2, roundTripMs };
        }
      }
      return best;
    },
    stop: () => child.stop(),
  };
}
