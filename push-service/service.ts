/**
 * `startPushService`: one HTTP server carrying both sides of a local RFC 8030 push service —
 * application servers POST messages over HTTP, user agents (Firefox, or the Node user agent)
 * connect with a WebSocket upgrade on `/` and receive them.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { type Counters, createCounters, reportRemoved, type ServiceContext } from './context.js';
import { PushCloseCode } from './errors.js';
import { createEmitter } from './events.js';
import { DEFAULT_FAULT_SEED, validateFaults } from './faults.js';
import { PUSH_SUBPROTOCOL } from './frames.js';
import { createRandom } from './prng.js';
import { createPushEndpoint } from './push-endpoint.js';
import { createRegistry } from './registry.js';
import type { PushService, PushServiceEvents, PushServiceOptions } from './types.js';
import { startSession } from './ua-session.js';

/** How often expired messages are removed. */
const EXPIRY_SWEEP_MS = 1000;

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
 * Starts a push service.
 * @param options - port, host, faults and limits
 * @returns the running service, once it listens
 * @remarks Everything is in memory and lives as long as the service. Endpoints are
 * `${url}/push/<channelID>`; message locations `${url}/m/<messageId>`.
 * @throws `InvalidFaultsError` for a fault rate outside `[0, 1]`
 */
export async function startPushService(options: PushServiceOptions = {}): Promise<PushService> {
  const {
    port = 0,
    host = '127.0.0.1',
    faults: initialFaults = {},
    maxMessageBytes = 4096,
    maxTtlSeconds = 30 * 24 * 60 * 60,
  } = options;

  let faults = validateFaults(initialFaults);
  const counters: Counters = createCounters();
  const context: ServiceContext = {
    url: '',
    registry: createRegistry(),
    counters,
    events: createEmitter<PushServiceEvents>(),
    acks: [],
    faults: () => faults,
    random: createRandom(faults.seed ?? DEFAULT_FAULT_SEED),
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const server = createServer();

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

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const publicHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${publicHost}:${address.port}`;
  context.url = url;
  server.on('request', createPushEndpoint(context, { maxMessageBytes, maxTtlSeconds }));

  // Messages of user agents that never come back must not pile up until someone reads stats.
  const sweep = setInterval(() => {
    reportRemoved(context, context.registry.expireAll(Date.now()));
  }, EXPIRY_SWEEP_MS);
  sweep.unref();

  let closing: Promise<void> | null = null;

  return {
    url,
    origin: url,
    wsUrl: `ws://${publicHost}:${address.port}/`,
    port: address.port,
    acks: context.acks,
    on: context.events.on,
    setFaults(next) {
      faults = validateFaults(next);
      context.random = createRandom(faults.seed ?? DEFAULT_FAULT_SEED);
    },
    stats() {
      reportRemoved(context, context.registry.expireAll(Date.now()));
      return {
        ...counters,
        rejected: { ...counters.rejected },
        acked: { ...counters.acked },
        nacked: { ...counters.nacked },
        pending: context.registry.size(),
        connections: [...wss.clients].length,
      };
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(sweep);
        for (const client of wss.clients) client.close(PushCloseCode.GoingAway, 'shutting down');
        // Sockets that do not finish the closing handshake are cut off.
        const force = setTimeout(() => {
          for (const client of wss.clients) client.terminate();
        }, 500);
        wss.close(() => {
          server.close(() => {
            clearTimeout(force);
            resolve();
          });
          server.closeAllConnections();
        });
      });
      return closing;
    },
  };
}
