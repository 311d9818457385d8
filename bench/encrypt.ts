import webpush from 'web-push';
import { createUserAgent, startPushService } from '../push-service/index.js';
import { encryptPushMessage, parseSubscriptionKeys } from '../server/push/encrypt.js';
import { createEndpointPolicy } from '../server/push/index.js';
import { createVapidAuth } from '../server/push/jwt.js';
import { generateVapidKeys } from '../server/vapid.js';
import { compare, measurement, type SuiteResult, timeInterleaved } from './harness.js';

/**
 * CPU cost of preparing one push message: our path (parsed keys and one VAPID JWT per origin,
 * both cached; one ECDH per message) against `web-push`'s `generateRequestDetails`, which
 * re-parses keys and signs a new JWT on every call.
 */
export async function run(): Promise<SuiteResult> {
  const service = await startPushService({ port: 0 });
  const ua = createUserAgent({ serviceUrl: service.wsUrl });
  try {
    const vapid = { subject: 'mailto:bench@example.com', ...generateVapidKeys() };
    const subscription = await ua.subscribe(vapid.publicKey);
    const payload = Buffer.from(
      JSON.stringify({
        v: 1,
        id: 'r:1',
        tab: 't',
        reg: 'r',
        seq: 1,
        type: 'next',
        payload: { data: { stockChanged: { id: 'p1', stock: 42 } } },
      }),
    );
    const origin = new URL(subscription.endpoint).origin;
    const keys = parseSubscriptionKeys(subscription.keys);
    const auth = createVapidAuth({ vapid });
    createEndpointPolicy({ allowedPushOrigins: [origin] });

    const samples = await timeInterleaved({
      ours: () => {
        encryptPushMessage(keys, payload);
        auth.authorization(origin);
      },
      'web-push': () => {
        webpush.generateRequestDetails(subscription, payload, {
          vapidDetails: vapid,
          TTL: 60,
          contentEncoding: 'aes128gcm',
        });
      },
    });
    const ours = measurement('encrypt+vapid.ours', 'µs/message', samples.ours ?? []);
    const baseline = measurement('encrypt+vapid.web-push', 'µs/message', samples['web-push'] ?? []);
    return {
      suite: 'encrypt',
      measurements: [ours, baseline],
      comparisons: [compare('encrypt+vapid ours / web-push', ours, baseline)],
    };
  } finally {
    await ua.close();
    await service.close();
  }
}
