import {
  ErrorCode,
  isServerId,
  parseRenewRequest,
  type RenewRequest,
  type RenewResponse,
} from '../../protocol/index.js';
import { createWebPushError } from '../errors.js';
import type { RegistrationRecord } from '../store/types.js';
import { readJsonBody } from './body.js';
import type { RouteContext, RouteHandler } from './context.js';

/**
 * `POST …/push/renew`: extends the tab's registrations, records how far the tab has read (which
 * trims the logs) and, with `hidden`, holds or releases the pushes of its data-only
 * registrations.
 * @returns {@link RenewResponse}; ids that are not this tab's or no longer exist are in `gone`,
 * live ones on no push subscription in `streamed`
 * @throws WEB_PUSH_UNAUTHENTICATED when `authorizeRenewal` refuses: nothing is renewed
 */
export const renew: RouteHandler = async (context, request) => {
  const { options, store, respond } = context;
  const body = parseRenewRequest(
    await readJsonBody(request, options.maxBodyBytes),
    options.maxRegistrationsPerTab,
  );
  if (options.authorizeRenewal && !(await authorized(context, request, body))) {
    throw createWebPushError(ErrorCode.Unauthenticated, 'Renewal refused: sign in again');
  }
  const expiresAt = context.now() + options.registrationTtlMs;
  const { renewed, gone } = await store.renew(
    body.tabId,
    body.registrations,
    expiresAt,
    body.hidden === undefined ? {} : { hidden: body.hidden },
  );
  const seqs: Record<string, number> = {};
  for (const record of renewed) seqs[record.id] = record.seq;
  const streamed = renewed.filter((record) => record.subscriptionId === null).map((r) => r.id);
  const response: RenewResponse = { expiresAt, gone, seqs, streamed };
  return respond.json(response);
};

/** Runs the operator's `authorizeRenewal` on the tab's own registrations named in the body. */
async function authorized(
  context: RouteContext,
  request: Request,
  body: RenewRequest,
): Promise<boolean> {
  const records = await Promise.all(
    body.registrations.map(({ registrationId }) =>
      isServerId(registrationId) ? context.store.getRegistration(registrationId) : null,
    ),
  );
  const own = records.filter(
    (record): record is RegistrationRecord => record !== null && record.tabId === body.tabId,
  );
  try {
    return (await context.options.authorizeRenewal?.(request, own)) === true;
  } catch (error) {
    context.logger.warn('graphql-web-push: authorizeRenewal threw; renewal refused', error);
    return false;
  }
}
