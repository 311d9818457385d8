/**
 * A graphql-yoga compatible pubsub whose events have ids and can be replayed, in memory or on
 * Redis Streams, and the cursor tracking that lets an adopted registration resume.
 * @packageDocumentation
 */
export {
  createPubSub,
  type PubSubOptions,
  type PubSubPublishArgsByKey,
  type ReplayablePubSub,
} from './create-pubsub.js';
export { type CursorTracker, createCursorTracker, runWithEventCursor } from './cursor.js';
export { compareEventIds, FIRST_EVENT_ID, isEventId } from './event-id.js';
