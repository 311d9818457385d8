import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Imports a subpath of the built package by its public name, in a plain Node process. */
function exportsOf(specifier: string): string[] {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m)))`,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  return JSON.parse(out) as string[];
}

describe('the published package', () => {
  beforeAll(() => {
    try {
      execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`npm run build failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
    }
  }, 120_000);

  it('resolves every subpath of `exports` to its public API', () => {
    expect(exportsOf('graphql-web-push/server')).toEqual(
      expect.arrayContaining(['useWebPush', 'createMemoryStore', 'generateVapidKeys']),
    );
    expect(exportsOf('graphql-web-push/link')).toEqual(
      expect.arrayContaining(['createClient', 'browserPushTransport', 'LinkErrorCode']),
    );
    expect(exportsOf('graphql-web-push/link/urql')).toEqual(
      expect.arrayContaining(['webPushExchange', 'webPushExchangeWithHandle']),
    );
    expect(exportsOf('graphql-web-push/link/apollo')).toEqual(['WebPushLink']);
    expect(exportsOf('graphql-web-push/service-worker')).toEqual(
      expect.arrayContaining(['handlePushMessages']),
    );
    expect(exportsOf('graphql-web-push/push-service')).toEqual(
      expect.arrayContaining(['startPushService', 'createUserAgent']),
    );
    expect(exportsOf('graphql-web-push/protocol')).toEqual(
      expect.arrayContaining(['parseEnvelope', 'ROUTES']),
    );
  });

  it('ships a ready-built sw.js that installs the push handlers when evaluated', () => {
    const code = readFileSync(`${root}dist/sw.js`, 'utf8');
    const listened: string[] = [];
    const self = {
      addEventListener: (type: string) => listened.push(type),
      clients: {},
      registration: {},
    };
    runInNewContext(code, { self, globalThis: self });
    expect(listened.sort()).toEqual(['push', 'pushsubscriptionchange']);
  });

  it('prints a usable VAPID key pair from its command-line tool', () => {
    const out = execFileSync(process.execPath, [`${root}dist/server/cli.js`], { encoding: 'utf8' });
    const keys = JSON.parse(out) as { publicKey: string; privateKey: string };
    expect(Buffer.from(keys.publicKey, 'base64url')).toHaveLength(65);
    expect(Buffer.from(keys.privateKey, 'base64url')).toHaveLength(32);
  });
});
