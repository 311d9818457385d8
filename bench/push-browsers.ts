/**
 * The clients of the push suites: browsers (Node user agents of the local push service) that
 * subscribe and then stay offline, so that the service stores what is pushed and only the
 * sending side is measured; and their tabs' registrations, made over HTTP against the server
 * like the link makes them.
 */
import { randomBytes } from 'node:crypto';
import {
  EXTENSION_KEY,
  type PushSubscriptionData,
  REGISTRATION_HEADER,
  REGISTRATION_HEADER_VALUE,
  ROUTES,
} from '../protocol/index.js';
import { createUserAgent } from '../push-service/index.js';
import { forEachLimited, requestJson } from './sse-client.js';

/** The operation every tab registers (one execution group when the variables are equal). */
export const STOCK_QUERY = 'subscription ($p: ID!) { stockChanged(productId: $p) { id stock } }';

/**
 * Subscribes `count` browsers to the push service and takes them offline.
 * @param wsUrl - the push service's user-agent side
 * @param vapidPublicKey - the server's applicationServerKey
 * @param count - browsers
 * @returns one push subscription per browser
 */
export async function subscribeBrowsers(
  wsUrl: string,
  vapidPublicKey: string,
  count: number,
): Promise<PushSubscriptionData[]> {
  const subscriptions: PushSubscriptionData[] = new Array(count);
  await forEachLimited(count, 32, async (i) => {
    const ua = createUserAgent({ serviceUrl: wsUrl });
    subscriptions[i] = await ua.subscribe(vapidPublicKey);
    await ua.close();
  });
  return subscriptions;
}

/**
 * Gives each browser's push subscription to the server, then registers `tabs` tabs per browser,
 * each one registration of {@link STOCK_QUERY} for `productId`.
 * @param url - the server's GraphQL endpoint
 * @param subscriptions - one per browser
 * @param tabs - tabs per browser
 * @param productId - the variable: equal for all, one group
 * @returns registrations made
 */
export async function registerTabs(
  url: string,
  subscriptions: readonly PushSubscriptionData[],
  tabs: number,
  productId: string,
): Promise<number> {
  const ids: string[] = new Array(subscriptions.length);
  await forEachLimited(subscriptions.length, 16, async (i) => {
    const answer = (await requestJson(`${url}${ROUTES.subscriptions}`, {
      method: 'PUT',
      body: subscriptions[i],
    })) as { subscriptionId: string };
    ids[i] = answer.subscriptionId;
  });
  const total = subscriptions.length * tabs;
  await forEachLimited(total, 16, async (n) => {
    await requestJson(url, {
      headers: { [REGISTRATION_HEADER]: REGISTRATION_HEADER_VALUE },
      body: {
        query: STOCK_QUERY,
        variables: { p: productId },
        extensions: {
          [EXTENSION_KEY]: {
            subscriptionId: ids[n % subscriptions.length],
            tabId: randomBytes(16).toString('base64url'),
            operationKey: 'stock',
          },
        },
      },
    });
  });
  return total;
}
