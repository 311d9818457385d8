/**
 * What the Redis suites need of the machine, checked by each of them in `beforeAll` rather than
 * once for the whole run: the suites that need no Redis run without one, and a suite whose Redis
 * is missing fails at once saying how to get it, instead of timing out test by test on refused
 * connections.
 * @packageDocumentation
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';

/** Where the Redis suites find Redis: `REDIS_URL`, else the development Redis. */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** What a suite needs; see {@link requireRedis}. */
export interface RedisNeeds {
  /**
   * A Redis answering at {@link TEST_REDIS_URL}.
   * @defaultValue true
   */
  running?: boolean;
  /**
   * `redis-server` on the PATH, for suites that start their own (a cluster node, a server to
   * kill or restart).
   * @defaultValue false
   */
  binary?: boolean;
}

/**
 * Fails unless the machine has what the suite needs of Redis.
 * @param needs - see {@link RedisNeeds}
 * @throws an Error listing each missing part with the command that provides it
 * @example `beforeAll(() => requireRedis());`
 */
export async function requireRedis({
  running = true,
  binary = false,
}: RedisNeeds = {}): Promise<void> {
  const problems: string[] = [];
  if (binary && !onPath('redis-server')) {
    problems.push(
      'redis-server is not installed: `apt-get install -y redis-server` (or `bash .ci/run`, which installs it)',
    );
  }
  if (running) {
    const { hostname, port } = new URL(TEST_REDIS_URL);
    const host = hostname || '127.0.0.1';
    const portNumber = Number(port || 6379);
    if (!(await answers(host, portNumber))) {
      problems.push(
        `nothing answers on ${host}:${portNumber}: start Redis with \`redis-server --daemonize yes --port ${portNumber} --save ""\`, or set REDIS_URL to one that runs`,
      );
    }
  }
  if (problems.length > 0) {
    throw new Error(`This suite needs Redis:\n- ${problems.join('\n- ')}`);
  }
}

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
