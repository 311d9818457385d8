import type { Operation } from '@urql/core';
import type { PushTransport } from '../protocol/index.js';
import type { LinkStorage } from './storage.js';

/** Options of `webPushExchange`. */
export interface WebPushExchangeOptions {
  /** The GraphQL endpoint, absolute (the plugin's routes live below it, `${url}/push/...`). */
  url: string;
  /** Where push messages come from: `browserPushTransport()` in a page. */
  transport: PushTransport;
  /**
   * This tab's id.
   * @defaultValue the id under `graphql-web-push:tab` in `storage`, else a new random 128-bit
   * base64url id, stored there so that a reload keeps it
   */
  tabId?: string;
  /**
   * Where the tab id, the registrations to resume after a reload and the dedup memory are kept.
   * `null` keeps nothing.
   * @defaultValue `globalThis.sessionStorage` when present
   */
  storage?: LinkStorage | null;
  /**
   * The `fetch` used for every request.
   * @defaultValue `operation.context.fetch`, else `globalThis.fetch`
   */
  fetch?: typeof fetch;
  /**
   * Request options (headers such as `authorization`, `credentials`) merged over
   * `operation.context.fetchOptions` for the registration, and used for the plugin's routes
   * (renewals re-check auth). `method` and `body` are always the link's.
   * @defaultValue the latest operation's `context.fetchOptions`
   */
  fetchOptions?: RequestInit | (() => RequestInit);
  /**
   * Which operations go over Web Push; the others are forwarded.
   * @defaultValue subscriptions only
   */
  shouldHandle?: (operation: Operation) => boolean;
  /**
   * How long a gap in seqs may stay open, waiting for the push service to deliver the missing
   * message, before it is fetched from the server's log. Applies to gaps seen in pushes and to
   * seqs a renewal reports (their pushes are often still on their way).
   * @defaultValue 500
   */
  gapWaitMs?: number;
  /**
   * How often registrations are renewed (and checked for missed messages).
   * @defaultValue the server's `renewIntervalMs` from `GET .../config`
   */
  renewIntervalMs?: number;
  /**
   * Most out-of-order envelopes held per registration; the farthest ahead are dropped past it
   * (the log still has them).
   * @defaultValue 1000
   */
  maxHeldPerRegistration?: number;
  /**
   * Most message ids kept in the dedup memory.
   * @defaultValue 2000
   */
  dedupMaxEntries?: number;
  /**
   * How long a message id stays in the dedup memory.
   * @defaultValue 600_000 (10 minutes)
   */
  dedupMaxAgeMs?: number;
  /**
   * On `pagehide` the tab's registrations are not deleted but shortened to this, so that a
   * reload can resume them without a gap.
   * @defaultValue 10_000
   */
  reloadGraceMs?: number;
}
