/**
 * The parent's side of `stream-server.ts`: starts it as a child process and talks to it over
 * IPC.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What the parent asks the child server. */
export type BenchRequest =
  | { id: number; op: 'publish'; topic: string; n: number }
  | { id: number; op: 'clock' }
  | { id: number; op: 'heap' };

type Op = BenchRequest['op'];
type Args<O extends Op> = Omit<Extract<BenchRequest, { op: O }>, 'id' | 'op'>;

interface Reply {
  id: number;
  value?: unknown;
  error?: string;
}

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
  const child: ChildProcess = fork(ENTRY, [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, { resolve(value: unknown): void; reject(e: Error): void }>();
  let nextId = 0;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('stream-server did not start')), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stream-server exited (${code}) while starting`));
    });
    child.on('message', (message: { ready?: number } & Reply) => {
      if (message.ready !== undefined) {
        clearTimeout(timer);
        resolve(message.ready);
        return;
      }
      const waiter = waiting.get(message.id);
      if (!waiter) return;
      waiting.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message.value);
    });
  });
  child.on('exit', () => {
    for (const waiter of waiting.values()) waiter.reject(new Error('stream-server exited'));
    waiting.clear();
  });

  const send = (op: Op, args: object = {}): number => {
    const id = nextId++;
    child.send({ id, op, ...args });
    return id;
  };
  const ask: BenchServer['ask'] = (op, args) =>
    new Promise((resolve, reject) => {
      waiting.set(send(op, args), { resolve, reject });
    });

  return {
    url: `http://127.0.0.1:${port}/graphql`,
    ask,
    tell: (op, args) => {
      send(op, args);
    },
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
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
