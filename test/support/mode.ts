import type { ClientMode } from '../../link/index.js';
import type { WebPushExchangeHandle } from '../../link/urql/index.js';

/**
 * Resolves once a tab's client is in `mode` (e.g. `push`: from now on events go by Web Push).
 * @param handle - the tab's exchange handle
 * @param mode - the mode to wait for
 * @param timeoutMs - how long to wait
 */
export function waitForMode(
  handle: Pick<WebPushExchangeHandle, 'mode' | 'on'>,
  mode: ClientMode,
  timeoutMs = 10_000,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (handle.mode === mode) return resolve();
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the tab stayed ${handle.mode}, not ${mode}`));
    }, timeoutMs);
    const stop = handle.on('mode', (now) => {
      if (now !== mode) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}
