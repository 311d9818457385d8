import { parseStreamQuery } from '../../protocol/index.js';
import type { RouteHandler } from './context.js';

/**
 * `GET …/push/stream?tabId=…&after=<registrationId>:<seq>,…`: the tab's envelopes as
 * Server-Sent Events, resumed after the positions given (or after `Last-Event-ID`, as an
 * `EventSource` sends it when it reconnects by itself).
 * @returns a `text/event-stream` response that stays open
 * @throws WEB_PUSH_BAD_REQUEST (400) for a malformed tab id, position or `Last-Event-ID`;
 * WEB_PUSH_UNKNOWN_TAB (404) when the tab has no registration; WEB_PUSH_UNKNOWN_REGISTRATION
 * (404) for a position that is not the tab's; WEB_PUSH_OVER_CAPACITY (503, `Retry-After`) when
 * this instance holds `maxStreams`
 */
export const stream: RouteHandler = async (context, request, url) => {
  const { tabId, positions } = parseStreamQuery(
    url.searchParams,
    request.headers.get('last-event-id'),
    context.options.maxRegistrationsPerTab,
  );
  return context.streams().open(tabId, positions, request.signal);
};
