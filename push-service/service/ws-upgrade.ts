/**
 * The way in for user agents: WebSocket upgrades on `/` of the plain HTTP server, offering the
 * `push-notification` subprotocol, each served as one session.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { PUSH_SUBPROTOCOL } from '../wire/frames.js';
import { loadWs } from '../wire/ws.js';
import type { ServiceContext } from './context.js';
import { startSession } from './ua-session.js';

/** Largest WebSocket frame accepted from a user agent; real frames are far smaller. */
const MAX_FRAME_BYTES = 64 * 1024;

const refuseUpgrade = (socket: Duplex, status: number, reason: string) => {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
};

const offersSubprotocol = (request: IncomingMessage) =>
  (request.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .some((protocol) => protocol.trim() === PUSH_SUBPROTOCOL);

/**
 * Serves user-agent WebSockets on `server`: 404 off `/`, 400 without the subprotocol.
 * @param server - the plain HTTP server
 * @param context - the service
 * @returns the WebSocket server (its `clients` are the connected user agents)
 * @throws an Error naming the package to install when `ws` is missing
 */
export function acceptUserAgents(server: Server, context: ServiceContext): WebSocketServer {
  const { WebSocketServer } = loadWs();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  server.on('upgrade', (request, socket, head) => {
    socket.on('error', () => socket.destroy());
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== '/') return refuseUpgrade(socket, 404, 'Not Found');
    if (!offersSubprotocol(request)) return refuseUpgrade(socket, 400, 'Bad Request');
    wss.handleUpgrade(request, socket, head, (ws) => {
      startSession(ws, context);
    });
  });
  // A malformed request must not crash the service; node answers 400 and closes the socket.
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return wss;
}
