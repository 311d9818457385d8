/**
 * A bench process of its own (`fork` under `tsx` with `--expose-gc`), so that what a suite
 * measures in it (CPU time, heap) is that process's alone. The child answers `{ id, op, ...args }`
 * requests over IPC with `{ id, value }` or `{ id, error }`, sends `{ ready: value }` once it can
 * serve, and exits when the parent disconnects (see `serveBenchRequests`).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** A running child. */
export interface BenchChild<Ready> {
  /** What the child sent with `ready` (a port, say). */
  ready: Ready;
  /** Asks the child; resolves with its answer. */
  ask<T>(op: string, args?: object): Promise<T>;
  /** Sends a request without waiting for its answer (which is dropped). */
  tell(op: string, args?: object): void;
  stop(): Promise<void>;
}

interface Reply {
  id: number;
  value?: unknown;
  error?: string;
}

/**
 * Starts `entry` as a child process.
 * @param entry - a TypeScript file that calls {@link serveBenchRequests}
 * @param env - added to this process's environment
 * @returns the child, once it said `ready`
 */
export async function startBenchChild<Ready>(
  entry: string,
  env: Record<string, string> = {},
): Promise<BenchChild<Ready>> {
  const child: ChildProcess = fork(entry, [], {
    // `BENCH_NODE_ARGS` (space-separated) adds V8/Node flags to diagnose a suite, e.g. `--trace-gc`.
    execArgv: [
      '--expose-gc',
      '--import',
      'tsx',
      ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, { resolve(value: unknown): void; reject(e: Error): void }>();
  let nextId = 0;
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not start`)), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited (${code}) while starting`));
    });
    child.on('message', (message: { ready?: Ready } & Reply) => {
      if ('ready' in message) {
        clearTimeout(timer);
        resolve(message.ready as Ready);
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
    for (const waiter of waiting.values()) waiter.reject(new Error(`${entry} exited`));
    waiting.clear();
  });
  const send = (op: string, args: object): number => {
    const id = nextId++;
    child.send({ id, op, ...args });
    return id;
  };
  return {
    ready,
    ask: <T>(op: string, args: object = {}) =>
      new Promise<T>((resolve, reject) => {
        waiting.set(send(op, args), { resolve: resolve as (value: unknown) => void, reject });
      }),
    tell(op, args = {}) {
      send(op, args);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The child's side: answers each request with `handlers[op](args)`, says `ready`, and exits when
 * the parent goes away.
 * @param handlers - one per op
 * @param ready - sent to the parent once the handlers are installed
 */
export function serveBenchRequests(
  handlers: Record<string, (args: Record<string, unknown>) => unknown>,
  ready: unknown,
): void {
  process.on('message', (request: { id: number; op: string } & Record<string, unknown>) => {
    const handler = handlers[request.op];
    void Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`bench child: no op ${request.op}`);
        return handler(request);
      })
      .then(
        (value) => process.send?.({ id: request.id, value }),
        (error: unknown) =>
          process.send?.({
            id: request.id,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ready });
}

/** CPU time (user + system, every thread of the process) since `from`, in microseconds. */
export function cpuSince(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return used.user + used.system;
}

/** CPU time per thread of this process (Linux `schedstat`, nanoseconds), by thread id. */
export function threadCpuNs(): Map<number, number> {
  const threads = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return threads;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8');
      threads.set(Number(tid), Number(stat.slice(0, stat.indexOf(' '))));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

/**
 * Where a process's CPU went since `from`: the main thread, the busiest other thread (in the
 * push suites the encryption worker) and all the rest (V8's GC and compiler helpers, libuv).
 * Microseconds; all zero where `/proc` is missing.
 */
export interface ThreadSplit {
  main: number;
  busiestOther: number;
  rest: number;
}

/**
 * Splits the CPU used since a {@link threadCpuNs} reading.
 * @param from - the earlier reading
 * @returns the split, microseconds
 */
export function threadSplitSince(from: Map<number, number>): ThreadSplit {
  const deltas: number[] = [];
  let main = 0;
  for (const [tid, ns] of threadCpuNs()) {
    const used = (ns - (from.get(tid) ?? 0)) / 1000;
    if (tid === process.pid) main = used;
    else deltas.push(used);
  }
  deltas.sort((a, b) => b - a);
  const busiestOther = deltas[0] ?? 0;
  const rest = deltas.slice(1).reduce((sum, value) => sum + value, 0);
  return { main, busiestOther, rest };
}

/** `heapUsed` after full collections (needs `--expose-gc`). */
export async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('bench: run with --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}
