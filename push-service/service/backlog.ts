/**
 * The backlog limit: a user agent with more than `maxPendingPerUserAgent` messages pending is
 * dropped, as Mozilla's autopush drops a browser's record after 150 stored messages (FCM caps
 * stored messages per device too). A browser that never comes back, or never acknowledges,
 * cannot make the service keep messages without bound, and its application servers learn it is
 * gone from the 410 its endpoints answer from then on.
 */
import { reportRemoved, type ServiceContext } from './context.js';
import { PushCloseCode } from './errors.js';
import type { UserAgentRecord } from './registry.js';

/**
 * Drops `agent` if it has more messages pending than the limit.
 * @param context - the service
 * @param agent - the user agent a message was just stored for
 * @returns true when the user agent was dropped
 * @remarks Dropping marks every channel of it gone (410 `CHANNEL_GONE`), removes its messages
 * (`removed` with reason `'user-agent-dropped'`), forgets its uaid, closes its socket with
 * {@link PushCloseCode.UserAgentDropped} and emits `userAgentDropped` last, once all that is done.
 */
export function enforceBacklogLimit(context: ServiceContext, agent: UserAgentRecord): boolean {
  const pending = agent.messages.size;
  if (pending <= context.maxPendingPerUserAgent) return false;
  const connection = agent.connection;
  const dropped = context.registry.drop(agent.uaid);
  if (!dropped) return false;
  // The socket goes first: a browser reconnects, says hello with the old uaid and gets a new one.
  connection?.close(PushCloseCode.UserAgentDropped, 'too many pending messages');
  context.counters.userAgentsDropped++;
  reportRemoved(context, dropped.messages);
  context.events.emit('userAgentDropped', {
    uaid: agent.uaid,
    pending,
    channelIDs: dropped.channelIDs,
  });
  return true;
}
