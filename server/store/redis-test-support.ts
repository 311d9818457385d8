/**
 * Test helpers for code that talks to Redis: a random key prefix with cleanup, and a throwaway
 * one-node Redis Cluster (cluster mode refuses cross-slot commands exactly like a real cluster).
 * Not part of the package's API.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type ClusterOptions, Redis } from 'ioredis';
import type { RedisClient } from './redis-script.js';

/** The shared development Redis. */
export { TEST_REDIS_URL as REDIS_URL } from '../../test/support/redis.js';

/** A key prefix no other test uses. */
export function testPrefix(name: string): string {
  return `test-${name}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Every key under `prefix:` (on every master of a cluster).
 * @returns the key names, sorted
 */
export async function keysWithPrefix(redis: RedisClient, prefix: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
  }
  return found.sort();
}

/** Deletes every key under `prefix:`, one by one (they may live in different slots). */
export async function deleteKeysWithPrefix(redis: RedisClient, prefix: string): Promise<void> {
  for (const key of await keysWithPrefix(redis, prefix)) await redis.del(key);
}

async function freePort(): Promise<number> {
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

/** A one-node Redis Cluster owning all 16384 slots. */
export interface TestCluster {
  port: number;
  /** A new ioredis Cluster client for it. */
  connect(options?: ClusterOptions): Cluster;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` in cluster mode on free local ports, without persistence.
 * @returns the running node; call `stop()` in `afterAll`
 */
export async function startTestCluster(): Promise<TestCluster> {
  const port = await freePort();
  const busPort = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'gwp-cluster-'));
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-port',
      String(busPort),
      '--cluster-config-file',
      join(dir, 'nodes.conf'),
      '--cluster-announce-ip',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: 'ignore' },
  );
  // Commands wait in the offline queue while the server starts; reconnect every 20 ms.
  const admin = new Redis({
    port,
    host: '127.0.0.1',
    retryStrategy: () => 20,
    maxRetriesPerRequest: null,
  });
  admin.on('error', () => {}); // refused connections until the server listens
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) while starting`)));
  });
  exited.catch(() => {});
  const setUp = async () => {
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; i < 200; i++) {
      if (String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error('cluster did not reach cluster_state:ok');
  };
  try {
    await Promise.race([setUp(), exited]);
  } catch (error) {
    // Never leave a server behind when the start fails.
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  } finally {
    admin.disconnect();
  }
  return {
    port,
    connect: (options) => new Cluster([{ host: '127.0.0.1', port }], options),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
