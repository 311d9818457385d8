import type { ConfigResponse } from '../../protocol/index.js';
import type { RouteHandler } from './context.js';

/**
 * `GET …/push/config`: what a tab needs before subscribing and registering.
 * @returns {@link ConfigResponse}
 */
export const getConfig: RouteHandler = async ({ options, respond }) => {
  const body: ConfigResponse = {
    applicationServerKey: options.vapid.publicKey,
    registrationTtlMs: options.registrationTtlMs,
    renewIntervalMs: options.renewIntervalMs,
    maxPayloadBytes: options.maxPayloadBytes,
    streamHeartbeatMs: options.streamHeartbeatMs,
  };
  return respond.json(body);
};
