/**
 * One instance of `npm run start:cluster`, run as a child process by cluster.ts: the example's
 * page and GraphQL endpoint with `useWebPush` on the Redis store and the shared schema
 * (cluster-schema.ts). Configured by environment variables:
 *
 * - `INSTANCE` (its name, also its lease owner id), `PORT`;
 * - `REDIS_URL`, `REDIS_PREFIX`;
 * - `PUSH_ORIGIN` (the local push service), `VAPID_SUBJECT`, `VAPID_PUBLIC_KEY`,
 *   `VAPID_PRIVATE_KEY` (every instance signs with the same keys: browsers subscribed with them);
 * - `LEASE_TTL_MS` (optional): how soon the others adopt its registrations when it dies.
 *
 * Prints `{"ready":PORT}` once it listens. SIGTERM hands its registrations over to the others.
 * Exits when stdin closes, so that no instance outlives the cluster.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createYoga } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { createRedisStore, useWebPush } from '../../server/index.js';
import { buildInventoryBundles } from './build.js';
import { createSharedInventory } from './cluster-schema.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`cluster instance: ${name} is not set`);
  return value;
};
const name = env('INSTANCE');
const prefix = env('REDIS_PREFIX');

const redis = new Redis(env('REDIS_URL'));
const { schema, pubSub } = await createSharedInventory({ redis, prefix });
const yoga = createYoga({
  schema,
  graphqlEndpoint: '/graphql',
  logging: 'warn',
  plugins: [
    useWebPush({
      vapid: {
        subject: env('VAPID_SUBJECT'),
        publicKey: env('VAPID_PUBLIC_KEY'),
        privateKey: env('VAPID_PRIVATE_KEY'),
      },
      store: createRedisStore({ redis, prefix }),
      allowedPushOrigins: [env('PUSH_ORIGIN')],
      instanceId: name,
      ...(process.env.LEASE_TTL_MS ? { leaseTtlMs: Number(process.env.LEASE_TTL_MS) } : {}),
    }),
  ],
});

// The page as server.ts serves it; the page finds `/graphql` on its own origin, the balancer's.
const publicFile = (file: string) => fileURLToPath(new URL(`./public/${file}`, import.meta.url));
const [bundles, index, styles, about] = await Promise.all([
  buildInventoryBundles(),
  readFile(publicFile('index.html'), 'utf8'),
  readFile(publicFile('styles.css')),
  readFile(publicFile('about.html')),
]);
const html = index.replace(
  '</head>',
  '  <script>window.__INVENTORY_CONFIG__ = {};</script>\n  </head>',
);
const assets: Record<string, { type: string; body: string | Uint8Array }> = {
  '/': { type: 'text/html; charset=utf-8', body: html },
  '/index.html': { type: 'text/html; charset=utf-8', body: html },
  '/styles.css': { type: 'text/css; charset=utf-8', body: styles },
  '/about.html': { type: 'text/html; charset=utf-8', body: about },
  '/app.js': { type: 'text/javascript; charset=utf-8', body: bundles.app },
  '/sw.js': { type: 'text/javascript; charset=utf-8', body: bundles.sw },
};

const server = createServer((req, res) => {
  // Which instance answered, for people watching the balancer spread requests.
  res.setHeader('x-inventory-instance', name);
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/graphql' || path.startsWith('/graphql/')) {
    yoga(req, res);
    return;
  }
  const asset = assets[path];
  if (!asset || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
    return;
  }
  res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ ready: port })}\n`);
});

// The cluster holds the other end of stdin: when it is gone, so is this instance.
process.stdin.on('close', () => process.exit(1));
process.stdin.resume();

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Ends the streams here with `reconnect` and releases the leases: the others adopt at once.
    await yoga.dispose();
    await pubSub.close();
    server.closeAllConnections();
    await closed;
    await redis.quit();
    process.exit(0);
  })();
});
