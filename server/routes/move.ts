import {
  ErrorCode,
  isServerId,
  type MoveResponse,
  parseMoveRequest,
} from '../../protocol/index.js';
import { createWebPushError } from '../errors.js';
import { appendSignal } from '../stream/signals.js';
import { readJsonBody } from './body.js';
import type { RouteHandler } from './context.js';

/**
 * `POST …/push/move` `{ tabId, subscriptionId, registrationIds }`: delivers the tab's listed
 * registrations to a push subscription, or (`null`) over the tab's stream. All or nothing.
 * @returns {@link MoveResponse}
 * @throws WEB_PUSH_UNKNOWN_SUBSCRIPTION (404) for an unknown push subscription;
 * WEB_PUSH_TOO_MANY_REGISTRATIONS (429) when it would hold more than
 * `maxRegistrationsPerSubscription`: the registrations stay where they were
 * @remarks Moved onto the stream, each registration's stream (if the tab opened it already) is
 * woken: messages appended while the registration was still pushed reach it too.
 */
export const move: RouteHandler = async (context, request) => {
  const { options, store, respond } = context;
  const body = parseMoveRequest(
    await readJsonBody(request, options.maxBodyBytes),
    options.maxRegistrationsPerTab,
  );
  if (body.subscriptionId !== null && !isServerId(body.subscriptionId)) {
    throw createWebPushError(
      ErrorCode.UnknownSubscription,
      'Unknown push subscription: PUT it again',
    );
  }
  const result = await store.move(
    body.tabId,
    body.registrationIds.filter(isServerId),
    body.subscriptionId,
    options.maxRegistrationsPerSubscription,
  );
  if (!result.ok) {
    throw result.reason === 'unknown-subscription'
      ? createWebPushError(ErrorCode.UnknownSubscription, 'Unknown push subscription: PUT it again')
      : createWebPushError(
          ErrorCode.TooManyRegistrations,
          'Too many registrations for this push subscription',
        );
  }
  if (body.subscriptionId === null) {
    await Promise.all(
      result.moved.map((record) => store.signal(record.tabId, appendSignal(record.id, record.seq))),
    );
  }
  const gone = [...result.gone, ...body.registrationIds.filter((id) => !isServerId(id))];
  const response: MoveResponse = { moved: result.moved.map((record) => record.id), gone };
  return respond.json(response);
};
