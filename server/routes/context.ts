import type { YogaLogger } from 'graphql-yoga';
import type { Capacity } from '../capacity.js';
import type { RequestGuard } from '../guard.js';
import type { ResolvedOptions } from '../options.js';
import type { RegistrationRecord, Store } from '../store/types.js';
import type { StreamHub } from '../stream/hub.js';
import type { Telemetry } from '../telemetry.js';
import type { Responder } from './respond.js';

/** What every route handler may use. */
export interface RouteContext {
  options: ResolvedOptions;
  store: Store;
  /** Tells the owners of their groups that these registrations, just deleted, left. */
  left(records: readonly RegistrationRecord[]): Promise<void>;
  /** Checks push endpoints against the allowlist (SSRF protection). */
  checkEndpoint(endpoint: string): { ok: true } | { ok: false; reason: string };
  /** Refuses state changes that are not JSON or come from another site. */
  guard: RequestGuard;
  /** Store-wide and per-client capacities. */
  capacity: Capacity;
  respond: Responder;
  /** This instance's open streams (made once Yoga started). */
  streams(): StreamHub;
  logger: YogaLogger;
  now(): number;
  /**
   * Where the routes' metrics go.
   * @defaultValue the shared telemetry on OpenTelemetry's global providers
   */
  telemetry?: Telemetry;
}

/** Handles one method of one route. Throws `createWebPushError` errors to refuse. */
export type RouteHandler = (context: RouteContext, request: Request, url: URL) => Promise<Response>;
