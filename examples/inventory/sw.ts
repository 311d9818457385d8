/**
 * The example's service worker: graphql-web-push envelopes go to the tabs; any other push is a
 * shop announcement, posted to the tabs as such.
 */
import { handlePushMessages, type PushWorkerScope } from '../../service-worker/index.js';
import { ANNOUNCEMENT_SOURCE, type AnnouncementMessage } from './client/announcement.js';

// `globalThis` is the ServiceWorkerGlobalScope here; the project compiles against the DOM lib.
const scope = globalThis as unknown as PushWorkerScope;

handlePushMessages(scope, {
  // Tell the server about a replaced subscription even when no tab is open to do it.
  subscriptionsUrl: new URL('/graphql/push/subscriptions', globalThis.location.href).href,
  async onPush(_event, data) {
    const clients = await scope.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const message: AnnouncementMessage = { source: ANNOUNCEMENT_SOURCE, data };
    for (const client of clients) client.postMessage(message);
  },
});
