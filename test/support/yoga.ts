/**
 * Yoga with `useWebPush` as the tests start it: fresh VAPID keys, a memory store and no logging,
 * in process (`yoga.fetch`) or on a port of 127.0.0.1. Every test server is built here, so that
 * an option the plugin comes to require, or a test default, changes in one place.
 * @packageDocumentation
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLSchema } from 'graphql';
import { createYoga, type YogaServerInstance, type YogaServerOptions } from 'graphql-yoga';
import type { WebPushOptions } from '../../server/options.js';
import { useWebPush } from '../../server/plugin.js';
import { createMemoryStore } from '../../server/store/memory.js';
import type { Store } from '../../server/store/types.js';
import { generateVapidKeys, type VapidOptions } from '../../server/vapid.js';

/** The VAPID subject of every test server. */
export const TEST_VAPID_SUBJECT = 'mailto:ops@example.com';

/**
 * The push-service origin the in-process servers accept: nothing listens there, their senders
 * record instead of sending.
 */
export const RECORDED_PUSH_ORIGIN = 'http://127.0.0.1:9999';

/** Options of {@link createTestYoga}: the schema, Yoga's own, and the plugin's over the tests'. */
export interface TestYogaOptions extends Partial<WebPushOptions> {
  schema: GraphQLSchema;
  /** Yoga's context factory. */
  context?: YogaServerOptions<object, object>['context'];
  /** @defaultValue false */
  logging?: YogaServerOptions<object, object>['logging'];
}

/** A test Yoga, with the VAPID identity and the store its plugin uses. */
export interface TestYoga {
  yoga: YogaServerInstance<object, object>;
  vapid: VapidOptions;
  store: Store;
}

/**
 * Creates Yoga with `useWebPush`.
 * @param options - see {@link TestYogaOptions}; plugin options not given default to new VAPID
 * keys, a new memory store and endpoints on {@link RECORDED_PUSH_ORIGIN}
 * @returns the server, its VAPID identity and its store
 */
export function createTestYoga({
  schema,
  context,
  logging = false,
  vapid = { subject: TEST_VAPID_SUBJECT, ...generateVapidKeys() },
  store = createMemoryStore(),
  allowedPushOrigins = [RECORDED_PUSH_ORIGIN],
  ...plugin
}: TestYogaOptions): TestYoga {
  const yoga = createYoga<object, object>({
    schema,
    logging,
    ...(context === undefined ? {} : { context }),
    plugins: [useWebPush({ ...plugin, vapid, store, allowedPushOrigins })],
  });
  return { yoga, vapid, store };
}

/** A node:http server on 127.0.0.1. */
export interface LocalServer {
  server: Server;
  port: number;
  /** `http://127.0.0.1:PORT/graphql`, Yoga's endpoint on it. */
  url: string;
  /** Cuts every connection (streams included) and waits until the server is closed. */
  close(): Promise<void>;
}

/**
 * Serves `handler` (a Yoga instance, say) on 127.0.0.1.
 * @param handler - the request listener
 * @param port - the port; 0 for a free one
 * @returns the listening server
 */
export async function serveLocally(handler: RequestListener, port = 0): Promise<LocalServer> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    url: `http://127.0.0.1:${bound}/graphql`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
