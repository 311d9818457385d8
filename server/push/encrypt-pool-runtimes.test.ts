import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserAgentKeys, decryptPushMessage } from './test-support.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

// Encrypts eight messages on one worker and prints them, without close(): the process must
// end by itself, so an idle worker must not hold it.
const SCRIPT = `
const [poolModule, encryptModule] = process.argv.slice(2);
const { createEncryptionPool } = await import(poolModule);
const { parseSubscriptionKeys } = await import(encryptModule);
const warnings = [];
process.on('warning', (warning) => warnings.push(warning.code ?? warning.name));
const keys = parseSubscriptionKeys(JSON.parse(process.env.PUSH_KEYS));
const pool = createEncryptionPool({ workers: 1 });
const batch = Array.from({ length: 8 }, (_, i) => ({ keys, plaintext: Buffer.from('message ' + i) }));
const bodies = await pool.encrypt(batch);
await new Promise((resolve) => setImmediate(resolve));
console.log(JSON.stringify({ workers: pool.workers, warnings, bodies: bodies.map((b) => b.toString('base64')) }));
`;

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'encrypt-pool-'));
  await writeFile(join(dir, 'script.mjs'), SCRIPT);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runScript(args: string[], poolModule: string, encryptModule: string) {
  const ua = createUserAgentKeys();
  const started = Date.now();
  const { stdout } = await run(
    process.execPath,
    [...args, join(dir, 'script.mjs'), poolModule, encryptModule],
    { cwd: root, timeout: 30_000, env: { ...process.env, PUSH_KEYS: JSON.stringify(ua.keys) } },
  );
  const out = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
    workers: number;
    warnings: string[];
    bodies: string[];
  };
  return { ua, out, ms: Date.now() - started };
}

function expectWorkerOutput({ ua, out }: Awaited<ReturnType<typeof runScript>>): void {
  expect(out.workers).toBe(1);
  // A worker that could not run its program would have reported a warning (and its batch
  // would have been encrypted on the event loop).
  expect(out.warnings).toEqual([]);
  expect(
    out.bodies.map((b) => decryptPushMessage(Buffer.from(b, 'base64'), ua).toString()),
  ).toEqual(Array.from({ length: 8 }, (_, i) => `message ${i}`));
}

describe('encryption workers in every way the code is run', () => {
  it('run from the TypeScript sources under tsx, and do not keep the process alive', async () => {
    const result = await runScript(
      ['--import', 'tsx'],
      join(here, 'encrypt-pool.ts'),
      join(here, 'encrypt.ts'),
    );
    expectWorkerOutput(result);
  });

  it('run from the compiled JavaScript (tsc output, as in dist/)', async () => {
    const out = join(dir, 'out');
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(root, 'tsconfig.json'),
        compilerOptions: {
          noEmit: false,
          outDir: out,
          rootDir: root,
          declaration: false,
          sourceMap: false,
          typeRoots: [join(root, 'node_modules/@types')],
        },
        include: [],
        files: [join(here, 'encrypt-pool.ts')],
      }),
    );
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], {
      cwd: root,
      timeout: 120_000,
    });
    await writeFile(join(out, 'package.json'), '{"type":"module"}');
    const result = await runScript(
      [],
      join(out, 'server/push/encrypt-pool.js'),
      join(out, 'server/push/encrypt.js'),
    );
    expectWorkerOutput(result);
  }, 120_000);
});
