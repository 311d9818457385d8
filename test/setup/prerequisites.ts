import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';

/**
 * Runs once before the test files: checks what the suites need from the machine and fails the
 * run with a message saying how to get it, instead of letting dozens of tests time out on a
 * refused connection. Browsers are checked by their own suites (test/browser/*.ts).
 */
export default async function checkPrerequisites(): Promise<void> {
  const problems: string[] = [];
  if (!onPath('redis-server')) {
    problems.push(
      'redis-server is not installed: `apt-get install -y redis-server` (or `bash .ci/run`, which installs it)',
    );
  }
  if (!(await answers('127.0.0.1', 6379))) {
    problems.push(
      'nothing answers on 127.0.0.1:6379: start Redis with `redis-server --daemonize yes --port 6379 --save ""`',
    );
  }
  if (problems.length > 0) {
    throw new Error(`The test suites need:\n- ${problems.join('\n- ')}`);
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
