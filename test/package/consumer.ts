/**
 * A project that depends on the packed package the way a user's does: `npm pack` of this
 * checkout, installed from the tarball into an empty temporary project, imported by its public
 * names from a plain Node process in that project.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

/** The installed tarball and the project it is installed in. */
export interface Consumer {
  /** The project's folder. */
  dir: string;
  /** Paths inside the tarball, `package/` stripped. */
  packed: string[];
  /** Installs packages into the project (from npm's cache when it has them). */
  install(...specs: string[]): Promise<void>;
  /** Runs an ES module in the project with this Node and answers its stdout. */
  evaluate(code: string): Promise<string>;
  /** Runs a command of the project's `node_modules/.bin`. */
  bin(name: string): Promise<string>;
  /** Removes the project and the tarball. */
  remove(): Promise<void>;
}

/** Output of a failed command, so that a failing test shows why. */
function explain(error: unknown, what: string): Error {
  const { stdout, stderr } = error as { stdout?: string; stderr?: string };
  return new Error(`${what} failed:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
}

/**
 * Packs this checkout (`prepack` builds it) and installs the tarball with `graphql`, the one
 * required peer, into a new temporary project.
 * @returns the project
 */
export async function createConsumer(): Promise<Consumer> {
  const base = await mkdtemp(join(tmpdir(), 'gwp-package-'));
  const dir = join(base, 'project');
  await mkdir(dir);
  try {
    await run('npm', ['pack', '--pack-destination', base], { cwd: root, timeout: 120_000 });
  } catch (error) {
    throw explain(error, 'npm pack');
  }
  const tarball = join(base, (await readdir(base)).find((name) => name.endsWith('.tgz')) ?? '');
  const { stdout: listing } = await run('tar', ['-tzf', tarball]);
  const packed = listing
    .split('\n')
    .filter(Boolean)
    .map((path) => path.replace(/^package\//, ''));
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );

  const consumer: Consumer = {
    dir,
    packed,
    async install(...specs) {
      try {
        await run(
          'npm',
          ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', ...specs],
          { cwd: dir, timeout: 60_000 },
        );
      } catch (error) {
        throw explain(error, `npm install ${specs.join(' ')}`);
      }
    },
    async evaluate(code) {
      try {
        const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], {
          cwd: dir,
          timeout: 30_000,
        });
        return stdout;
      } catch (error) {
        throw explain(error, 'the module');
      }
    },
    async bin(name) {
      const { stdout } = await run(join(dir, 'node_modules', '.bin', name), [], {
        cwd: dir,
        timeout: 30_000,
      });
      return stdout;
    },
    remove: () => rm(base, { recursive: true, force: true }),
  };
  await consumer.install(tarball, 'graphql');
  return consumer;
}
