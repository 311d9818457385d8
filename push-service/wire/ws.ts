/**
 * Loads `ws`, an optional peer dependency: only the push service and the Node user agent speak
 * WebSocket, so nothing else of the package needs it installed.
 */
import { createRequire } from 'node:module';
import type * as WsModule from 'ws';

/** The parts of `ws` both sides use. */
export type Ws = Pick<typeof WsModule, 'WebSocket' | 'WebSocketServer'>;

let loaded: Ws | undefined;

/**
 * Loads `ws` on first use.
 * @returns the module
 * @throws an Error naming the package to install when `ws` is missing
 */
export function loadWs(): Ws {
  if (loaded) return loaded;
  try {
    loaded = createRequire(import.meta.url)('ws') as Ws;
  } catch (cause) {
    throw new Error('The local push service and its user agent need ws: npm install ws', {
      cause,
    });
  }
  return loaded;
}
