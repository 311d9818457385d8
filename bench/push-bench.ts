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
  /** The encryption floor over the last captured event's pushes. */
  floor(): Promise<BaselineCost>;
  /** The last captured event's pushes again, encrypted and POSTed bare (see `bare-send.ts`). */
  bare(inFlight: number): Promise<BaselineCost>;
  /** The last captured event's pushes again, with `web-push` by hand. */
  webPush(inFlight: number): Promise<BaselineCost>;
  /** Profiles `work` in the server process into `dir` (see `profiler.ts`); returns the path. */
  profile(
    dir: string,
    name: string,
    work: () => Promise<unknown>,
    kind?: ProfileKind,
  ): Promise<string>;
  close(): Promise<void>;
}

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
  let child: BenchChild<number>;
  try {
    child = await startBenchChild<number>(ENTRY, {
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
    });
  } catch (error) {
    await service.close();
    throw error;
  }
  return {
    service,
    vapid,
    url: `http://127.0.0.1:${child.ready}/graphql`,
    publish: (productId, stock, expect, capture = false) =>
      child.ask<EventCost>('publish', { productId, stock, expect, capture }),
    floor: () => child.ask<BaselineCost>('floor'),
    bare: (inFlight) => child.ask<BaselineCost>('bare', { inFlight }),
    webPush: (inFlight) => child.ask<BaselineCost>('web-push', { inFlight }),
    async profile(dir, name, work, kind = 'cpu') {
      await child.ask('profile-start', { kind });
      await work();
      return child.ask<string>('profile-stop', { dir, name });
    },
    async close() {
      await child.stop();
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
