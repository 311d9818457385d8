/** Where the plugin's routes live and how a registration is marked. */

/** Path segments of the plugin's routes, below the GraphQL endpoint (`/graphql/push/...`). */
export const ROUTES = {
  config: '/push/config',
  subscriptions: '/push/subscriptions',
  renew: '/push/renew',
  move: '/push/move',
  messages: '/push/messages',
  stream: '/push/stream',
  unregister: '/push/unregister',
} as const;

/** Key under `extensions` that marks a GraphQL request as a Web Push registration. */
export const EXTENSION_KEY = 'webPush';

/**
 * Request header every registration (`POST /graphql` with `extensions.webPush`) carries, value
 * {@link REGISTRATION_HEADER_VALUE}. It tells the server before reading the body that this is a
 * registration, so the body limit applies before anything is buffered; and, being a custom
 * header, no cross-site form or simple request can carry it (a browser preflights it).
 */
export const REGISTRATION_HEADER = 'x-graphql-web-push';

/** Value of {@link REGISTRATION_HEADER}. */
export const REGISTRATION_HEADER_VALUE = 'register';

/** Longest grace an unregister may ask for: long enough for a reload, short enough to be bounded. */
export const MAX_UNREGISTER_GRACE_MS = 60_000;
