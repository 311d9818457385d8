import {
  ErrorCode,
  isServerId,
  type MessagesResponse,
  parseMessagesQuery,
} from '../../protocol/index.js';
import { createWebPushError } from '../errors.js';
import { sharedTelemetry } from '../telemetry.js';
import type { RouteHandler } from './context.js';

/**
 * `GET …/push/messages?tabId=…&registrationId=…&after=SEQ`: the retained envelopes after `after`,
 * with full payloads (gap filling, and results sent by reference).
 * @returns {@link MessagesResponse}
 * @remarks Each answer counts as one read of the log and its envelopes as served. A `ref` fetch
 * and a gap fill ask the same thing (everything after the tab's last seq), so they are counted
 * together.
 * @throws WEB_PUSH_UNKNOWN_REGISTRATION unless the registration exists and is this tab's
 */
export const getMessages: RouteHandler = async (context, _request, url) => {
  const { options, store, respond } = context;
  const { tabId, registrationId, after } = parseMessagesQuery(url.searchParams);
  const record = isServerId(registrationId) ? await store.getRegistration(registrationId) : null;
  // Another tab's registration gets the same answer as a missing one: ids reveal nothing.
  if (!record || record.tabId !== tabId) {
    throw createWebPushError(ErrorCode.UnknownRegistration, 'Unknown registration');
  }
  const envelopes = await store.getMessages(registrationId, after, options.maxRetainedMessages);
  const body: MessagesResponse = { envelopes, lastSeq: record.seq };
  (context.telemetry ?? sharedTelemetry()).messagesServed(envelopes.length);
  return respond.json(body);
};
