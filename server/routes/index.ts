import { ErrorCode, ROUTES } from '../../protocol/index.js';
import { webPushErrorCode } from '../errors.js';
import { getConfig } from './config.js';
import type { RouteContext, RouteHandler } from './context.js';
import { getMessages } from './messages.js';
import { move } from './move.js';
import { renew } from './renew.js';
import { stream } from './stream.js';
import { deleteSubscription, putSubscription } from './subscriptions.js';
import { unregister } from './unregister.js';

const TABLE: Record<string, Record<string, RouteHandler>> = {
  [ROUTES.config]: { GET: getConfig },
  [ROUTES.subscriptions]: { PUT: putSubscription, DELETE: deleteSubscription },
  [ROUTES.renew]: { POST: renew },
  [ROUTES.move]: { POST: move },
  [ROUTES.messages]: { GET: getMessages },
  [ROUTES.stream]: { GET: stream },
  [ROUTES.unregister]: { POST: unregister },
};

/** What a client at a capacity is told to wait (`Retry-After`, seconds). */
const RETRY_AFTER_SECONDS = '5';

/** The common prefix of every route (`/push`). */
export const ROUTE_PREFIX = '/push';

/**
 * Answers a request for one of the plugin's routes.
 *
 * @param context - what the handlers use
 * @param request - the request
 * @param url - its parsed URL
 * @param path - the part of the path after the GraphQL endpoint, e.g. `/push/config`
 * @returns the response; never throws. Refusals are `{ errors: [...] }` with the status of their
 * code: an unknown route 404, a known route with the wrong method 405 (with `Allow`), a failing
 * store 503; a state change that is not JSON 415, or comes from another site 403.
 */
export async function handleRoute(
  context: RouteContext,
  request: Request,
  url: URL,
  path: string,
): Promise<Response> {
  const route = TABLE[path];
  if (!route) return context.respond.error(ErrorCode.NotFound, `No route ${path}`);
  const handler = route[request.method];
  if (!handler) {
    return context.respond.error(
      ErrorCode.MethodNotAllowed,
      `${request.method} is not allowed on ${path}`,
      { allow: Object.keys(route).join(', ') },
    );
  }
  try {
    // Every route that changes state: JSON only, and never from another site (CSRF).
    if (request.method !== 'GET' && request.method !== 'HEAD') context.guard.check(request);
    return await handler(context, request, url);
  } catch (error) {
    const code = webPushErrorCode(error);
    if (code === ErrorCode.OverCapacity) {
      return context.respond.error(code, (error as Error).message, {
        'retry-after': RETRY_AFTER_SECONDS,
      });
    }
    if (code) return context.respond.error(code, (error as Error).message);
    context.logger.error('graphql-web-push: a route failed', error);
    return context.respond.error(ErrorCode.Unavailable, 'Service temporarily unavailable');
  }
}
