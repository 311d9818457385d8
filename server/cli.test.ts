import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { importVapidKeys } from './vapid.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));

describe('graphql-web-push-vapid', () => {
  it('prints a fresh, valid key pair as JSON', async () => {
    const [first, second] = await Promise.all([
      run(process.execPath, ['--import', 'tsx', cli], { timeout: 15_000 }),
      run(process.execPath, ['--import', 'tsx', cli], { timeout: 15_000 }),
    ]);
    const keys = JSON.parse(first.stdout) as { publicKey: string; privateKey: string };

    expect(Object.keys(keys).sort()).toEqual(['privateKey', 'publicKey']);
    expect(importVapidKeys({ subject: 'mailto:ops@example.com', ...keys }).publicKey).toBe(
      keys.publicKey,
    );
    expect((JSON.parse(second.stdout) as { publicKey: string }).publicKey).not.toBe(keys.publicKey);
    expect(first.stderr).toBe('');
  });
});
