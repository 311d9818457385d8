import { ErrorCode, type PutSubscriptionResponse } from '../../protocol/index.js';
import { createWebPushError } from '../errors.js';
import { randomId } from '../ids.js';
import { parsePushSubscription } from '../validate.js';
import { readJsonBody } from './body.js';
import type { RouteHandler } from './context.js';

/**
 * `PUT …/push/subscriptions` with `PushSubscription.toJSON()`: stores the browser's push
 * subscription and returns its id. The same endpoint and keys always give the same id.
 * @returns {@link PutSubscriptionResponse}
 * @remarks The endpoint must be on the allowlist: the server will POST to it.
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
  const record = await store.putSubscription(data, randomId(), context.now());
  const body: PutSubscriptionResponse = { subscriptionId: record.id };
  return respond.json(body);
};
