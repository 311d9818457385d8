import {
  type DeleteSubscriptionResponse,
  ErrorCode,
  isServerId,
  type PutSubscriptionResponse,
  parseDeleteSubscriptionRequest,
} from '../../protocol/index.js';
import { createWebPushError } from '../errors.js';
import { randomId } from '../ids.js';
import { parsePushSubscription } from '../validate.js';
import { readJsonBody } from './body.js';
import type { RouteHandler } from './context.js';

/**
 * `PUT …/push/subscriptions` with `PushSubscription.toJSON()`: stores the browser's push
 * subscription and returns its id. The same endpoint and keys always give the same id.
 * @returns {@link PutSubscriptionResponse}
 * @remarks The endpoint must be on the allowlist: the server will POST to it. The subscription
 * lives a registration TTL, and as long as registrations on it live. A new one counts against
 * `maxPushSubscriptions` (503) and the client's `maxPushSubscriptionsPerClient` (429).
 */
export const putSubscription: RouteHandler = async (context, request) => {
  const { options, store, respond } = context;
  const data = parsePushSubscription(await readJsonBody(request, options.maxBodyBytes));
  const allowed = context.checkEndpoint(data.endpoint);
  if (!allowed.ok) {
    throw createWebPushError(
      ErrorCode.EndpointNotAllowed,
      `Push endpoint not allowed: ${allowed.reason}`,
    );
  }
  const clientKey = context.capacity.clientOf(request);
  const existing = await store.findSubscription(data.endpoint);
  const same = existing?.keys.p256dh === data.keys.p256dh && existing.keys.auth === data.keys.auth;
  // Putting the same subscription again (every page load does) is never over a capacity.
  if (!same) await context.capacity.admitSubscription(clientKey);
  const record = await store.putSubscription(
    data,
    randomId(),
    context.now(),
    options.registrationTtlMs,
    clientKey,
  );
  const body: PutSubscriptionResponse = { subscriptionId: record.id };
  return respond.json(body);
};

/**
 * `DELETE …/push/subscriptions` `{ subscriptionId }`: the browser gave its push subscription up
 * (the app turned push off). Registrations still on it go over their tabs' streams.
 * @returns {@link DeleteSubscriptionResponse}; an unknown id is answered `deleted: false`
 */
export const deleteSubscription: RouteHandler = async (context, request) => {
  const { options, store, respond } = context;
  const { subscriptionId } = parseDeleteSubscriptionRequest(
    await readJsonBody(request, options.maxBodyBytes),
  );
  const existed = isServerId(subscriptionId) && (await store.getSubscription(subscriptionId));
  if (existed) await store.deleteSubscription(subscriptionId);
  const body: DeleteSubscriptionResponse = { deleted: Boolean(existed) };
  return respond.json(body);
};
