/**
 * Scale-out on one machine: instances of the example (cluster-instance.ts, each its own process)
 * on the Redis store, behind the round-robin balancer, sharing one local push service. Any
 * instance serves any tab; kill one and the others adopt its registrations.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { PushService } from '../../push-service/index.js';
import { type Balancer, type BalancerOptions, startBalancer } from './balancer.js';
import type { VapidIdentity } from './vapid-file.js';

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** The keys every instance signs with. */
  vapid: VapidIdentity;
  /** The push service whose endpoints the instances accept. It stays the caller's. */
  pushService: PushService;
  /**
   * The Redis the instances share.
   * @defaultValue 'redis://127.0.0.1:6379'
   */
  redisUrl?: string;
  /**
   * First segment of every key the cluster writes.
   * @defaultValue 'inventory-cluster'
   */
  prefix?: string;
  /**
   * The balancer's port; 0 picks a free one.
   * @defaultValue 0
   */
  port?: number;
  /**
   * How many instances.
   * @defaultValue 2
   */
  instances?: number;
  /** Lease of each instance's registrations; the plugin's default (5 s) when unset. */
  leaseTtlMs?: number;
  /**
   * Where the instances' output goes, line by line.
   * @defaultValue `console.log` with the instance's name in front
   */
  onLine?: (instance: string, line: string) => void;
  /** Called with each request the balancer sends on; see {@link BalancerOptions.onForward}. */
  onForward?: BalancerOptions['onForward'];
}

/** One running instance. */
export interface ClusterInstance {
  /** `a`, `b`, …: its lease owner id, and its `x-inventory-instance` response header. */
  name: string;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  pid: number;
  alive(): boolean;
  /** Sends `signal` (SIGTERM hands over; SIGKILL is a crash) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** The running cluster. */
export interface Cluster {
  /** The balancer's `http://localhost:PORT/`: the one URL to open. */
  url: string;
  balancer: Balancer;
  instances: ClusterInstance[];
  /** Stops the instances (hand-over) and the balancer. */
  close(): Promise<void>;
}

const INSTANCE_ENTRY = fileURLToPath(new URL('./cluster-instance.ts', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../../', import.meta.url));

/** Fails with what to do when nothing answers at `url`, before any instance starts. */
async function checkRedis(url: string): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch {
    throw new Error(
      `Nothing answers at ${url}. Start Redis (redis-server --daemonize yes --save "") or set REDIS_URL.`,
    );
  } finally {
    probe.disconnect();
  }
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));

async function startInstance(
  name: string,
  env: Record<string, string>,
  onLine: (instance: string, line: string) => void,
): Promise<ClusterInstance> {
  const child = spawn(process.execPath, ['--import', 'tsx', INSTANCE_ENTRY], {
    cwd: REPOSITORY,
    // PORT 0: the PORT given to the cluster is the balancer's.
    env: { ...process.env, ...env, INSTANCE: name, PORT: '0' },
    // stdin stays open while the cluster runs; the instance exits when it closes.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const line = (text: string) => {
      const ready = /^\{"ready":(\d+)\}$/.exec(text);
      if (ready) return resolve(Number(ready[1]));
      output.push(text);
      onLine(name, text);
    };
    createInterface({ input: child.stdout }).on('line', line);
    createInterface({ input: child.stderr }).on('line', line);
    child.once('exit', (code, signal) =>
      reject(new Error(`instance ${name} exited (${signal ?? code}):\n${output.join('\n')}`)),
    );
  });
  child.once('exit', (code, signal) => onLine(name, `exited (${signal ?? code})`));
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    alive,
    async stop(signal = 'SIGTERM') {
      if (!alive()) return;
      const done = exited(child);
      child.kill(signal);
      // A hand-over that hangs must not keep the cluster from stopping.
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts the instances, then the balancer in front of them.
 * @param options - see {@link ClusterOptions}
 * @returns the cluster, once every instance listens
 * @throws when Redis does not answer, with what to do; a busy balancer port with `EADDRINUSE`
 */
export async function startCluster({
  vapid,
  pushService,
  redisUrl = 'redis://127.0.0.1:6379',
  prefix = 'inventory-cluster',
  port = 0,
  instances: count = 2,
  leaseTtlMs,
  onLine = (instance, line) => console.log(`[${instance}] ${line}`),
  onForward,
}: ClusterOptions): Promise<Cluster> {
  await checkRedis(redisUrl);
  const env = {
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    PUSH_ORIGIN: pushService.origin,
    VAPID_SUBJECT: vapid.subject,
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    ...(leaseTtlMs === undefined ? {} : { LEASE_TTL_MS: String(leaseTtlMs) }),
  };
  const names = Array.from({ length: count }, (_, i) => String.fromCharCode(97 + i));
  const started = await Promise.allSettled(names.map((name) => startInstance(name, env, onLine)));
  const instances = started.flatMap((result) =>
    result.status === 'fulfilled' ? [result.value] : [],
  );
  const stopAll = () => Promise.all(instances.map((instance) => instance.stop()));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  const balancer = await startBalancer({
    backends: instances.map((instance) => instance.url),
    port,
    ...(onForward ? { onForward } : {}),
  }).catch(async (error: unknown) => {
    await stopAll();
    throw error;
  });
  return {
    url: balancer.url,
    balancer,
    instances,
    async close() {
      await balancer.close();
      await stopAll();
    },
  };
}
