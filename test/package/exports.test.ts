import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Consumer, createConsumer } from './consumer.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

/** What internal code uses and no entry point may export. */
const INTERNALS = [
  'runWithEventCursor',
  'createCursorTracker',
  'decodeBase64Url',
  'encodeBase64Url',
  'randomBase64UrlId',
  'fromBase64url',
  'toBase64url',
];

let consumer: Consumer;

/** The export names of an entry point, imported by its public name in the consumer project. */
async function exportsOf(specifier: string): Promise<string[]> {
  const out = await consumer.evaluate(
    `console.log(JSON.stringify(Object.keys(await import(${JSON.stringify(specifier)}))))`,
  );
  return JSON.parse(out) as string[];
}

/** Every `npm install`ed package name the consumer's node_modules holds. */
async function installed(): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(consumer.dir, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  return Object.keys(lock.packages).map((path) => path.replace(/^.*node_modules\//, ''));
}

/** Imports `/server`, serves the plugin's config route on the memory store, lists loaded peers. */
const SERVE_ON_MEMORY_STORE = `
  import { createRequire } from 'node:module';
  import { createSchema, createYoga } from 'graphql-yoga';
  import { createMemoryStore, generateVapidKeys, useWebPush } from 'graphql-web-push/server';
  const yoga = createYoga({
    schema: createSchema({ typeDefs: 'type Query { a: Int } type Subscription { a: Int }' }),
    plugins: [useWebPush({
      vapid: { subject: 'mailto:ops@example.com', ...generateVapidKeys() },
      store: createMemoryStore(),
    })],
  });
  const response = await yoga.fetch('http://localhost/graphql/push/config');
  const loaded = Object.keys(createRequire(import.meta.url).cache)
    .filter((path) => /[\\\\/]node_modules[\\\\/](ioredis|ws)[\\\\/]/.test(path));
  await yoga.dispose();
  console.log(JSON.stringify({ status: response.status, loaded }));
`;

describe('the packed package, installed into a project with only graphql', () => {
  beforeAll(async () => {
    consumer = await createConsumer();
  }, 120_000);
  afterAll(() => consumer?.remove());

  it('ships compiled code, types, the command, LICENSE and README: no sources, maps or tests', () => {
    const { packed } = consumer;
    expect(packed).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'package.json',
        'bin/graphql-web-push-vapid.js',
        'dist/sw.js',
        'dist/server/cli.js',
      ]),
    );
    const top = new Set(['LICENSE', 'README.md', 'package.json']);
    const outside = packed.filter((path) => !/^(dist|bin)\//.test(path) && !top.has(path));
    expect(outside).toEqual([]);
    expect(packed.filter((path) => path.endsWith('.map'))).toEqual([]);
    expect(packed.filter((path) => /(?<!\.d)\.ts$/.test(path))).toEqual([]);
    expect(packed.filter((path) => /\.test\.|test-(support|helpers)|contract/.test(path))).toEqual(
      [],
    );
  });

  it('has a file for every target of `exports`, each with its types', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, string | { types: string; import: string }>;
    };
    const targets = Object.values(manifest.exports).flatMap((target) =>
      typeof target === 'string' ? [target] : [target.types, target.import],
    );
    expect(targets.length).toBeGreaterThan(10);
    for (const target of targets) expect(consumer.packed).toContain(target.replace(/^\.\//, ''));
  });

  it('imports /protocol, /link and /service-worker with nothing else installed', async () => {
    expect(await exportsOf('graphql-web-push/protocol')).toEqual(
      expect.arrayContaining(['parseEnvelope', 'ROUTES', 'createStreamParser', 'ErrorCode']),
    );
    expect(await exportsOf('graphql-web-push/link')).toEqual(
      expect.arrayContaining(['createClient', 'browserPushTransport', 'LinkErrorCode']),
    );
    expect(await exportsOf('graphql-web-push/service-worker')).toEqual(
      expect.arrayContaining(['handlePushMessages']),
    );
  });

  it('imports /push-service without ws, and names ws when a service is started', async () => {
    const out = await consumer.evaluate(`
      import { decrypt, startPushService } from 'graphql-web-push/push-service';
      const failure = await startPushService().then(() => 'started', (error) => error.message);
      console.log(JSON.stringify({ decrypt: typeof decrypt, failure }));
    `);
    expect(JSON.parse(out)).toEqual({
      decrypt: 'function',
      failure: expect.stringContaining('npm install ws'),
    });
  });

  it('keeps internals out of every entry point', async () => {
    for (const entry of ['protocol', 'link', 'service-worker', 'push-service']) {
      const names = await exportsOf(`graphql-web-push/${entry}`);
      expect(names.filter((name) => INTERNALS.includes(name))).toEqual([]);
    }
  });

  it('ships a ready-built sw.js that installs the push handlers when evaluated', async () => {
    const path = await consumer.evaluate(
      `console.log(new URL(import.meta.resolve('graphql-web-push/service-worker/sw.js')).pathname)`,
    );
    const code = await readFile(path.trim(), 'utf8');
    const listened: string[] = [];
    const self = {
      addEventListener: (type: string) => listened.push(type),
      clients: {},
      registration: {},
    };
    runInNewContext(code, { self, globalThis: self });
    expect(listened.sort()).toEqual(['push', 'pushsubscriptionchange']);
  });

  describe('plus graphql-yoga, the server part’s peer', () => {
    beforeAll(() => consumer.install('graphql-yoga'), 60_000);

    it('serves the plugin on the memory store with neither ioredis nor ws installed', async () => {
      const packages = await installed();
      expect(packages).not.toContain('ioredis');
      expect(packages).not.toContain('ws');
      expect(JSON.parse(await consumer.evaluate(SERVE_ON_MEMORY_STORE))).toEqual({
        status: 200,
        loaded: [],
      });
    });

    it('exports what the options need from /server, and no internals', async () => {
      const names = await exportsOf('graphql-web-push/server');
      expect(names).toEqual(
        expect.arrayContaining([
          'useWebPush',
          'createMemoryStore',
          'createRedisStore',
          'createPubSub',
          'generateVapidKeys',
          'createPushSender',
          'VapidKeyError',
          'InvalidPushArgumentError',
          'createWebPushError',
        ]),
      );
      expect(names.filter((name) => INTERNALS.includes(name))).toEqual([]);
    });

    it('names ioredis when a Redis store is made from a URL without it', async () => {
      const out = await consumer.evaluate(`
        import { createRedisStore } from 'graphql-web-push/server';
        try { createRedisStore({ redis: 'redis://127.0.0.1:6379' }); console.log('made'); }
        catch (error) { console.log(error.message); }
      `);
      expect(out).toContain('npm install ioredis');
    });

    it('refuses unusable VAPID keys with the exported VapidKeyError', async () => {
      const out = await consumer.evaluate(`
        import { useWebPush, VapidKeyError } from 'graphql-web-push/server';
        try { useWebPush({ vapid: { subject: 'mailto:ops@example.com', publicKey: 'x', privateKey: 'y' } }); }
        catch (error) { console.log(JSON.stringify({ ours: error instanceof VapidKeyError, code: error.code })); }
      `);
      expect(JSON.parse(out)).toEqual({ ours: true, code: 'VAPID_INVALID_KEY' });
    });
  });

  describe('plus every optional peer', () => {
    beforeAll(
      () => consumer.install('@urql/core', '@apollo/client', 'rxjs', 'ws', 'ioredis'),
      60_000,
    );

    it('imports /link/urql and /link/apollo', async () => {
      expect(await exportsOf('graphql-web-push/link/urql')).toEqual(
        expect.arrayContaining(['webPushExchange', 'webPushExchangeWithHandle']),
      );
      expect(await exportsOf('graphql-web-push/link/apollo')).toEqual(['WebPushLink']);
    });

    it('starts the local push service and a Node user agent with ws', async () => {
      const out = await consumer.evaluate(`
        import { createUserAgent, startPushService } from 'graphql-web-push/push-service';
        const service = await startPushService();
        const ua = createUserAgent({ serviceUrl: service.wsUrl });
        await ua.close();
        await service.close();
        console.log(service.url.startsWith('http://'));
      `);
      expect(out.trim()).toBe('true');
    });

    it('still loads neither ioredis nor ws for /server on the memory store', async () => {
      expect(JSON.parse(await consumer.evaluate(SERVE_ON_MEMORY_STORE))).toEqual({
        status: 200,
        loaded: [],
      });
    });

    it('prints a usable VAPID key pair from graphql-web-push-vapid', async () => {
      const keys = JSON.parse(await consumer.bin('graphql-web-push-vapid')) as {
        publicKey: string;
        privateKey: string;
      };
      expect(Buffer.from(keys.publicKey, 'base64url')).toHaveLength(65);
      expect(Buffer.from(keys.privateKey, 'base64url')).toHaveLength(32);
    });
  });
});

describe('graphql-web-push-vapid in a checkout', () => {
  it('runs the TypeScript source, so it needs no build', async () => {
    const { stdout } = await run(process.execPath, [join(root, 'bin/graphql-web-push-vapid.js')], {
      cwd: root,
      timeout: 30_000,
    });
    const keys = JSON.parse(stdout) as { publicKey: string; privateKey: string };
    expect(Buffer.from(keys.publicKey, 'base64url')).toHaveLength(65);
  });
});
