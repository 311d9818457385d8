/**
 * What the push suites share: the push service here, the server (`push-server.ts`) in a child
 * process, and the typed questions the suites ask it.
 */
import { fileURLToPath } from 'node:url';
import { startPushService } from '../push-service/index.js';
import { generateVapidKeys } from '../server/vapid.js';
import type { BaselineCost } from './by-hand.js';
import { type BenchChild, startBenchChild } from './child.js';
import type { ProfileKind } from './profiler.js';
import type { EventCost } from './recording-sender.js';

const ENTRY = fileURLToPath(new URL('./push-server.ts', import.meta.url));

/** The push service and the server of one suite. */
export interface PushBench {
  service: Awaited<ReturnType<typeof startPushService>>;
  vapid: { publicKey: string; privateKey: string };
  /** The server's GraphQL endpoint. */
  url: string;
  /** Publishes one event; resolves when `expect` pushes (at least) were all answered. */
  publish(productId: string, stock: number, expect: number, capture?: boolean): Promise<EventCost>;
  /**
   * The encryption floor over the last captured event's pushes. The baselines run in a process
   * of their own (same code, same options), so the server's process holds only its own garbage.
   */
  floor(): Promise<BaselineCost>;
  /** The last captured event's pushes again, encrypted and POSTed bare (see `bare-send.ts`). */
  bare(inFlight: number): Promise<BaselineCost>;
  /** The last captured event's pushes again, with `web-push` by hand. */
  webPush(inFlight: number): Promise<BaselineCost>;
  /** Full collections in the server's process; resolves with its heap used after them. */
  collect(): Promise<number>;
  /**
   * Profiles `work` into `dir` (see `profiler.ts`), in the server's process or the baselines';
   * returns the path.
   */
  profile(
    dir: string,
    name: string,
    work: () => Promise<unknown>,
    kind?: ProfileKind,
    of?: ProcessRole,
  ): Promise<string>;
  close(): Promise<void>;
}

/** The two processes: the server's events, and the baselines. */
export type ProcessRole = 'server' | 'baselines';

/** Options of {@link startPushBench}. */
export interface PushBenchOptions {
  /** `concurrencyPerOrigin` of the server's sender; its default when absent. */
  concurrency?: number;
  /** Serve the push service on `localhost` (for a proxy, see `BENCH_LOCALHOST`). */
  host?: string;
  /** `encryptionWorkers` of the server's sender; its default when absent. */
  encryptionWorkers?: number;
  /** Where the server resolves `localhost`. */
  localhostAddress?: string;
  /**
   * The push service in secure mode: the server sends over HTTP/2 (as to FCM, autopush, APNs and
   * WNS), `web-push` over HTTPS/1.1.
   */
  secure?: boolean;
}

/**
 * Starts the push service (offline browsers' messages kept without bound) and the server.
 * @param options - sender concurrency and name resolution
 * @returns the bench
 */
export async function startPushBench(options: PushBenchOptions = {}): Promise<PushBench> {
  const service = await startPushService({
    port: 0,
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.secure ? { secure: true } : {}),
    maxPendingPerUserAgent: Number.POSITIVE_INFINITY,
  });
  const vapid = generateVapidKeys();
  const env = {
    BENCH_VAPID_PUBLIC_KEY: vapid.publicKey,
    BENCH_VAPID_PRIVATE_KEY: vapid.privateKey,
    BENCH_PUSH_ORIGIN: service.origin,
    ...(service.ca === null ? {} : { BENCH_CA: service.ca }),
    ...(options.concurrency === undefined
      ? {}
      : { BENCH_CONCURRENCY: String(options.concurrency) }),
    ...(options.encryptionWorkers === undefined
      ? {}
      : { BENCH_ENCRYPTION_WORKERS: String(options.encryptionWorkers) }),
    ...(options.localhostAddress === undefined
      ? {}
      : { BENCH_LOCALHOST: options.localhostAddress }),
  };
  // Two processes: the server's events in one, the baselines in the other, so that neither
  // pays for the other's garbage (a round of `web-push` leaves plenty).
  const started = await Promise.allSettled([
    startBenchChild<number>(ENTRY, env),
    startBenchChild<number>(ENTRY, env),
  ]);
  const [server, baselines] = started.map((outcome) =>
    outcome.status === 'fulfilled' ? outcome.value : undefined,
  );
  if (server === undefined || baselines === undefined) {
    await Promise.all([server?.stop(), baselines?.stop()]);
    await service.close();
    const failed = started.find((outcome) => outcome.status === 'rejected');
    throw (failed as PromiseRejectedResult).reason;
  }
  const children: Record<ProcessRole, BenchChild<number>> = { server, baselines };
  return {
    service,
    vapid,
    url: `http://127.0.0.1:${server.ready}/graphql`,
    async publish(productId, stock, expect, capture = false) {
      const cost = await server.ask<EventCost>('publish', { productId, stock, expect, capture });
      if (capture) {
        const pushes = await server.ask<unknown[]>('captured-pushes');
        await baselines.ask('load', { pushes });
      }
      return cost;
    },
    floor: () => baselines.ask<BaselineCost>('floor'),
    bare: (inFlight) => baselines.ask<BaselineCost>('bare', { inFlight }),
    webPush: (inFlight) => baselines.ask<BaselineCost>('web-push', { inFlight }),
    collect: () => server.ask<number>('heap'),
    async profile(dir, name, work, kind = 'cpu', of = 'server') {
      const child = children[of];
      await child.ask('profile-start', { kind });
      await work();
      return child.ask<string>('profile-stop', { dir, name });
    },
    async close() {
      await Promise.all([server.stop(), baselines.stop()]);
      await service.close();
    },
  };
}

/** Throws unless every push of an event was answered 2xx and the push service counted them. */
export function checkPushes(
  what: string,
  cost: { pushes: number; failed: number },
  expected: number,
  accepted?: number,
): void {
  if (cost.pushes !== expected || cost.failed !== 0) {
    throw new Error(
      `bench: ${what}: ${cost.pushes} pushes (${cost.failed} failed), expected ${expected}`,
    );
  }
  if (accepted !== undefined && accepted !== expected) {
    throw new Error(`bench: ${what}: the push service accepted ${accepted} of ${expected}`);
  }
}
