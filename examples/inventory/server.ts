import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createYoga } from 'graphql-yoga';
import { type PushService, startPushService } from '../../push-service/index.js';
import { createMemoryStore, generateVapidKeys, useWebPush } from '../../server/index.js';
import type { Store } from '../../server/store/types.js';
import { buildInventoryBundles } from './build.js';
import type { Product } from './catalog.js';
import type { PageConfig } from './client/page-config.js';
import { createInventorySchema } from './schema.js';
import { EXAMPLE_VAPID_SUBJECT, loadOrCreateVapid, type VapidIdentity } from './vapid-file.js';

/** Options of {@link startInventoryServer}. */
export interface InventoryServerOptions {
  /**
   * Port to listen on; 0 picks a free one.
   * @defaultValue 0
   */
  port?: number;
  /**
   * Interface to listen on.
   * @defaultValue '127.0.0.1'
   */
  host?: string;
  /**
   * Push service whose endpoints are accepted. Without one, a local push service is started on a
   * free port and closed with the server.
   */
  pushService?: PushService;
  /**
   * Where registrations live.
   * @defaultValue `createMemoryStore()`
   */
  store?: Store;
  /**
   * JSON file holding the VAPID keys, created when missing. Without it (and without `vapid`),
   * fresh keys are generated for this run.
   */
  vapidFile?: string;
  /** VAPID identity to use as is; wins over `vapidFile`. */
  vapid?: VapidIdentity;
  /**
   * How long a registration lives without renewal.
   * @defaultValue the plugin's default (60 s)
   */
  registrationTtlMs?: number;
  /** How often expired registrations are swept; the plugin's default when unset. */
  sweepIntervalMs?: number;
  /** Products to start with; the example catalogue when unset. */
  products?: Product[];
  /** Link timings written into the page (tests shorten them). */
  page?: PageConfig;
}

/** A running example server. */
export interface InventoryServer {
  /** `http://localhost:PORT/`: the page. */
  url: string;
  /** `http://localhost:PORT/graphql`. */
  graphqlUrl: string;
  /** The push service whose endpoints this server accepts. */
  pushService: PushService;
  /** Where registrations live. */
  store: Store;
  /** Products by id, as the resolvers change them. */
  products: Map<string, Product>;
  /** VAPID public key (base64url), the `applicationServerKey` browsers subscribe with. */
  vapidPublicKey: string;
  /** Stops the HTTP server, Yoga, and the push service when this server started it. */
  close(): Promise<void>;
}

const publicFile = (name: string) => fileURLToPath(new URL(`./public/${name}`, import.meta.url));

const escapeScript = (json: string) => json.replace(/</g, '\\u003c');

/**
 * Starts the live-inventory example: the page, its bundles and the GraphQL endpoint with the Web
 * Push plugin, all on one port.
 * @param options - see {@link InventoryServerOptions}
 * @returns the running server
 * @remarks `/sw.js` is served from the root so that the service worker's scope covers the page.
 * The URL uses `localhost`, which browsers treat as a secure context over plain HTTP.
 */
export async function startInventoryServer({
  port = 0,
  host = '127.0.0.1',
  pushService: givenPushService,
  store = createMemoryStore(),
  vapidFile,
  vapid: givenVapid,
  registrationTtlMs,
  sweepIntervalMs,
  products,
  page = {},
}: InventoryServerOptions = {}): Promise<InventoryServer> {
  const vapid =
    givenVapid ??
    (vapidFile
      ? await loadOrCreateVapid(vapidFile)
      : { subject: EXAMPLE_VAPID_SUBJECT, ...generateVapidKeys() });
  const [bundles, indexTemplate, styles, about] = await Promise.all([
    buildInventoryBundles(),
    readFile(publicFile('index.html'), 'utf8'),
    readFile(publicFile('styles.css')),
    readFile(publicFile('about.html')),
  ]);
  const indexHtml = indexTemplate.replace(
    '</head>',
    `  <script>window.__INVENTORY_CONFIG__ = ${escapeScript(JSON.stringify(page))};</script>\n  </head>`,
  );

  const pushService = givenPushService ?? (await startPushService({ host }));
  const { schema, products: productsById } = createInventorySchema(products ? { products } : {});
  const yoga = createYoga({
    schema,
    graphqlEndpoint: '/graphql',
    logging: false,
    plugins: [
      useWebPush({
        vapid,
        store,
        allowedPushOrigins: [pushService.origin],
        ...(registrationTtlMs === undefined ? {} : { registrationTtlMs }),
        ...(sweepIntervalMs === undefined ? {} : { sweepIntervalMs }),
      }),
    ],
  });

  const assets: Record<string, { type: string; body: string | Uint8Array }> = {
    '/': { type: 'text/html; charset=utf-8', body: indexHtml },
    '/index.html': { type: 'text/html; charset=utf-8', body: indexHtml },
    '/styles.css': { type: 'text/css; charset=utf-8', body: styles },
    '/about.html': { type: 'text/html; charset=utf-8', body: about },
    '/app.js': { type: 'text/javascript; charset=utf-8', body: bundles.app },
    '/sw.js': { type: 'text/javascript; charset=utf-8', body: bundles.sw },
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
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
    // Always revalidate: a stale service worker script is the classic source of confusion.
    res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: boundPort } = server.address() as AddressInfo;
  const url = `http://localhost:${boundPort}/`;

  return {
    url,
    graphqlUrl: `${url}graphql`,
    pushService,
    store,
    products: productsById,
    vapidPublicKey: vapid.publicKey,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await yoga.dispose();
      if (!givenPushService) await pushService.close();
    },
  };
}
