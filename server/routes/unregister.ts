import {
  isServerId,
  parseUnregisterRequest,
  type UnregisterResponse,
} from '../../protocol/index.js';
import { goneSignal } from '../stream/signals.js';
import { readJsonBody } from './body.js';
import type { RouteHandler } from './context.js';

/**
 * `POST …/push/unregister` `{ tabId, registrationIds, graceMs? }`: removes the tab's
 * registrations (a group left with no member stops executing). With `graceMs` it only brings their expiry forward, so
 * a reloading tab that renews within the grace keeps them (sent with `fetch(…, { keepalive })` on
 * `pagehide`).
 * @returns {@link UnregisterResponse}; ids that are unknown or not this tab's are ignored
 */
export const unregister: RouteHandler = async (context, request) => {
  const { options, store, respond } = context;
  const body = parseUnregisterRequest(
    await readJsonBody(request, options.maxBodyBytes),
    options.maxRegistrationsPerTab,
  );
  const expiresAt = body.graceMs === undefined ? null : context.now() + body.graceMs;
  const unregistered: string[] = [];
  for (const id of new Set(body.registrationIds)) {
    const record = isServerId(id) ? await store.getRegistration(id) : null;
    if (!record || record.tabId !== body.tabId) continue;
    if (expiresAt === null) {
      if (await store.deleteRegistration(id)) {
        unregistered.push(id);
        await store.signal(record.tabId, goneSignal(id));
        await context.left([record]);
      }
    } else if (record.expiresAt > expiresAt) {
      // Only ever shortens: a grace must not extend a registration about to expire anyway.
      const { renewed } = await store.renew(
        body.tabId,
        [{ registrationId: id, ackedSeq: record.ackedSeq }],
        expiresAt,
      );
      if (renewed.length > 0) unregistered.push(id);
    } else {
      unregistered.push(id);
    }
  }
  const response: UnregisterResponse = { unregistered };
  return respond.json(response);
};
