import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga } from 'graphql-yoga';
import { startPushService } from '../../push-service/index.js';
import { createMemoryStore, generateVapidKeys, useWebPush } from '../../server/index.js';
import type { Store } from '../../server/store/types.js';
import { createInventorySchema } from './inventory-schema.js';

/** Options of {@link startStack}. */
export interface StackOptions {
  store?: Store;
  registrationTtlMs?: number;
  sweepIntervalMs?: number;
  maxPayloadBytes?: number;
  pushService?: Parameters<typeof startPushService>[0];
  plugin?: Partial<Parameters<typeof useWebPush>[0]>;
}

/**
 * A whole server side on real sockets: the local push service, and Yoga with `useWebPush` on a
 * node:http server. Every test file starts its own on port 0.
 */
export async function startStack(options: StackOptions = {}) {
  const pushService = await startPushService({ port: 0, ...options.pushService });
  const keys = generateVapidKeys();
  const store = options.store ?? createMemoryStore();
  const inventory = createInventorySchema();
  const yoga = createYoga({
    schema: inventory.schema,
    logging: false,
    plugins: [
      useWebPush({
        vapid: { subject: 'mailto:ops@example.com', ...keys },
        store,
        allowedPushOrigins: [pushService.origin],
        ...(options.registrationTtlMs ? { registrationTtlMs: options.registrationTtlMs } : {}),
        ...(options.sweepIntervalMs ? { sweepIntervalMs: options.sweepIntervalMs } : {}),
        ...(options.maxPayloadBytes ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
        ...options.plugin,
      }),
    ],
  });
  const server = createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/graphql`;

  /** Runs a mutation over plain HTTP, as another user of the site would. */
  async function setStock(productId: string, stock: number): Promise<void> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($p: ID!, $s: Int!) { setStock(productId: $p, stock: $s) { id } }',
        variables: { p: productId, s: stock },
      }),
    });
    const body = (await res.json()) as { errors?: unknown };
    if (!res.ok || body.errors) throw new Error(`setStock failed: ${JSON.stringify(body)}`);
  }

  async function close(): Promise<void> {
    await yoga.dispose();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await pushService.close();
  }

  return { url, yoga, server, store, pushService, inventory, setStock, close, vapid: keys };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

/** Polls `check` until it returns true, failing with `message` after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  message: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${message}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
