/**
 * Child processes of the multi-instance tests: a `redis-server` of their own (with an append-only
 * file, so a restart keeps what Redis acknowledged) and server instances (`instance.ts` under
 * `tsx`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it right away). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));

/** A `redis-server` owned by one test file. */
export interface RedisServer {
  port: number;
  url: string;
  /** Stops it with SIGTERM (it writes its append-only file) and starts it again on the same port. */
  restart(options?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on a free port with `--appendonly yes --appendfsync always` in a
 * temporary directory.
 * @returns the server; `stop()` it in `afterAll`
 */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'gwp-redis-'));
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    );
    // Commands wait in the offline queue while the server starts; reconnect every 20 ms.
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      retryStrategy: () => 20,
      maxRetriesPerRequest: null,
    });
    probe.on('error', () => {});
    const deadline = Date.now() + 10_000;
    try {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode})`);
        if (Date.now() > deadline) throw new Error('redis-server did not start');
        // Loading the append-only file answers LOADING until done.
        const answered = await Promise.race([
          probe.ping().then(
            (reply) => reply === 'PONG',
            () => false,
          ),
          new Promise<false>((resolve) => setTimeout(() => resolve(false), 500)),
        ]);
        if (answered) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      probe.disconnect();
    }
  };

  const halt = async (): Promise<void> => {
    const running = child;
    if (!running) return;
    const done = exited(running);
    running.kill('SIGTERM');
    await done;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async restart({ downMs = 0 } = {}) {
      await halt();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await launch();
    },
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What every instance of one test shares. */
export interface InstanceConfig {
  redisUrl: string;
  prefix: string;
  pushOrigin: string;
  vapid: { publicKey: string; privateKey: string };
  leaseTtlMs: number;
  registrationTtlMs: number;
  sweepIntervalMs?: number;
}

/** A running server instance. */
export interface InstanceProcess {
  name: string;
  /** `http://127.0.0.1:PORT/graphql`. */
  url: string;
  /** Sends SIGTERM (hand-over) and waits for the exit; resolves with the exit code. */
  terminate(): Promise<number | null>;
  /** Sends SIGKILL and waits for the exit. */
  kill(): Promise<void>;
  /** True while the process runs. */
  alive(): boolean;
  /** The last lines it wrote to stderr, for failure messages. */
  log(): string;
}

const INSTANCE_ENTRY = fileURLToPath(new URL('./instance.ts', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../../', import.meta.url));
const running = new Set<ChildProcess>();

/**
 * Starts `instance.ts` as a child process and waits until it listens.
 * @param name - its instance id (the lease owner name)
 * @param config - Redis, push service, VAPID keys and timings
 * @returns the instance
 */
export async function startInstance(
  name: string,
  config: InstanceConfig,
): Promise<InstanceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', INSTANCE_ENTRY], {
    cwd: REPOSITORY,
    env: {
      ...process.env,
      INSTANCE_ID: name,
      REDIS_URL: config.redisUrl,
      REDIS_PREFIX: config.prefix,
      PUSH_ORIGIN: config.pushOrigin,
      VAPID_PUBLIC_KEY: config.vapid.publicKey,
      VAPID_PRIVATE_KEY: config.vapid.privateKey,
      LEASE_TTL_MS: String(config.leaseTtlMs),
      REGISTRATION_TTL_MS: String(config.registrationTtlMs),
      SWEEP_INTERVAL_MS: String(config.sweepIntervalMs ?? 250),
    },
    // stdin stays open while this process lives; the instance exits when it closes.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const errors: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    errors.push(chunk);
    if (errors.length > 50) errors.shift();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start: ${errors.join('')}`)),
      30_000,
    );
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const match = /\{"ready":(\d+)\}/.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) while starting: ${errors.join('')}`));
    });
  });
  return {
    name,
    url: `http://127.0.0.1:${port}/graphql`,
    async terminate() {
      const done = exited(child);
      child.kill('SIGTERM');
      const hung = await Promise.race([
        done.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 15_000).unref()),
      ]);
      if (hung) {
        child.kill('SIGKILL');
        await done;
        throw new Error(`${name} did not exit within 15 s of SIGTERM: ${errors.join('')}`);
      }
      return child.exitCode;
    },
    async kill() {
      const done = exited(child);
      child.kill('SIGKILL');
      await done;
    },
    alive: () => child.exitCode === null && child.signalCode === null,
    log: () => errors.join(''),
  };
}

/** Kills every instance still running (for `afterAll`, whatever a test left behind). */
export async function killAllInstances(): Promise<void> {
  await Promise.all(
    [...running].map((child) => {
      const done = exited(child);
      child.kill('SIGKILL');
      return done;
    }),
  );
}
