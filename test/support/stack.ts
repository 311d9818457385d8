import type { GraphQLSchema } from 'graphql';
import { type PushServiceOptions, startPushService } from '../../push-service/index.js';
import type { WebPushOptions } from '../../server/options.js';
import type { Store } from '../../server/store/types.js';
import { createInventorySchema } from './inventory-schema.js';
import { createTestYoga, serveLocally } from './yoga.js';

/** Options of {@link startYogaStack}. */
export interface YogaStackOptions {
  schema: GraphQLSchema;
  /** Options of the local push service, over port 0. */
  pushService?: PushServiceOptions;
  /** Options of `useWebPush`, over the test defaults and the push service's origin. */
  plugin?: Partial<WebPushOptions>;
  /**
   * Runs after `yoga.dispose()` and before the sockets close: to close what the test made for
   * the plugin, such as its own sender, whose retries would otherwise wait on.
   */
  afterDispose?: () => Promise<void>;
}

/**
 * A whole server side on real sockets: the local push service, and Yoga with `useWebPush` on a
 * node:http server, accepting the push service's endpoints. Every test file starts its own on
 * port 0.
 * @param options - see {@link YogaStackOptions}
 * @returns the running parts; `close()` stops all of them
 */
export async function startYogaStack({
  schema,
  pushService: pushServiceOptions,
  plugin = {},
  afterDispose,
}: YogaStackOptions) {
  const pushService = await startPushService({ port: 0, ...pushServiceOptions });
  const { yoga, vapid, store } = createTestYoga({
    schema,
    allowedPushOrigins: [pushService.origin],
    ...plugin,
  });
  const local = await serveLocally(yoga);

  async function close(): Promise<void> {
    await yoga.dispose();
    await afterDispose?.();
    await local.close();
    await pushService.close();
  }

  return { url: local.url, yoga, server: local.server, store, pushService, vapid, close };
}

/** Options of {@link startStack}. */
export interface StackOptions {
  store?: Store;
  registrationTtlMs?: number;
  sweepIntervalMs?: number;
  maxPayloadBytes?: number;
  pushService?: PushServiceOptions;
  plugin?: Partial<WebPushOptions>;
}

/**
 * {@link startYogaStack} serving the inventory schema, with a mutation over plain HTTP.
 * @param options - see {@link StackOptions}
 * @returns the running stack; `close()` stops all of it
 */
export async function startStack(options: StackOptions = {}) {
  const inventory = createInventorySchema();
  const { store, registrationTtlMs, sweepIntervalMs, maxPayloadBytes } = options;
  const stack = await startYogaStack({
    schema: inventory.schema,
    ...(options.pushService ? { pushService: options.pushService } : {}),
    plugin: {
      ...(store ? { store } : {}),
      ...(registrationTtlMs ? { registrationTtlMs } : {}),
      ...(sweepIntervalMs ? { sweepIntervalMs } : {}),
      ...(maxPayloadBytes ? { maxPayloadBytes } : {}),
      ...options.plugin,
    },
  });
  const { url } = stack;

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

  return { ...stack, inventory, setStock };
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
