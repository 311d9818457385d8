/**
 * The example's service worker: graphql-web-push envelopes go to the tabs; any other push is a
 * shop announcement, posted to the tabs as such. While no window of the shop is visible, a pushed
 * stock change (only the background alert's are pushed then: a hidden tab holds the rest) becomes
 * a notification the shop builds, one per product.
 */
import type { Envelope } from '../../protocol/index.js';
import { handlePushMessages, type PushWorkerScope } from '../../service-worker/index.js';
import { ANNOUNCEMENT_SOURCE, type AnnouncementMessage } from './client/announcement.js';

// `globalThis` is the ServiceWorkerGlobalScope here; the project compiles against the DOM lib.
const scope = globalThis as unknown as PushWorkerScope;

type StockChanged = { data?: { stockChanged?: { id: string; stock: number } } };

const notificationOf = (envelope: Envelope) => {
  const changed = (envelope.payload as StockChanged | undefined)?.data?.stockChanged;
  // A reference (too big for a push) or an end: nothing worth a notification.
  if (envelope.type !== 'next' || !changed) return null;
  return {
    title: changed.stock > 0 ? `${changed.stock} in stock` : 'Sold out',
    options: { body: `Product ${changed.id}`, tag: `stock-${changed.id}` },
  };
};

handlePushMessages(scope, {
  // Tell the server about a replaced subscription even when no tab is open to do it.
  subscriptionsUrl: new URL('/graphql/push/subscriptions', globalThis.location.href).href,
  background: { policy: 'notify', notification: notificationOf },
  async onPush(_event, data) {
    const clients = await scope.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const message: AnnouncementMessage = { source: ANNOUNCEMENT_SOURCE, data };
    for (const client of clients) client.postMessage(message);
  },
});
