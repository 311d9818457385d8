/**
 * `startPushService`: both sides of a local RFC 8030 push service. User agents (Firefox, or the
 * Node user agent) connect with a WebSocket upgrade on `/` of a plain HTTP server. Application
 * servers POST messages to the same server, or, in secure mode, to an HTTPS server that speaks
 * HTTP/2 and HTTP/1.1.
 */
import { createServer } from 'node:http';
import { createSelfSignedCertificate, DEFAULT_CERTIFICATE_HOSTS } from './certificate.js';
import { type Counters, createCounters, reportRemoved, type ServiceContext } from './context.js';
import { PushCloseCode } from './errors.js';
import { createEmitter } from './events.js';
import { http1Exchange } from './exchange.js';
import { DEFAULT_FAULT_SEED, validateFaults } from './faults.js';
import { listen, plainHostOf, secureHostOf } from './listen.js';
import { DEFAULT_MAX_PENDING_PER_USER_AGENT, validatePendingLimit } from './options.js';
import { createRandom } from './prng.js';
import { createElsewhereListener, createPushEndpoint } from './push-endpoint.js';
import { createRegistry } from './registry.js';
import { type SecureServer, startSecureServer } from './secure-server.js';
import type { PushService, PushServiceEvents, PushServiceOptions } from './types.js';
import { acceptUserAgents } from './ws-upgrade.js';

/** How often expired messages are removed. */
const EXPIRY_SWEEP_MS = 1000;

/** Hosts of the certificate made for secure mode: the loopback names, and `host` if another. */
const certificateHosts = (host: string) =>
  DEFAULT_CERTIFICATE_HOSTS.includes(host) || host === '0.0.0.0' || host === '::'
    ? [...DEFAULT_CERTIFICATE_HOSTS]
    : [...DEFAULT_CERTIFICATE_HOSTS, host];

/**
 * Starts a push service.
 * @param options - ports, host, secure mode, faults and limits
 * @returns the running service, once it listens
 * @remarks Everything is in memory and lives as long as the service. Endpoints are
 * `${url}/push/<channelID>`; message locations `${url}/m/<messageId>`. With `secure`, `url` is
 * `https://localhost:<securePort>` and user agents still connect to `wsUrl` (plain `ws://`).
 * @throws `InvalidFaultsError` for a fault rate outside `[0, 1]`; `RangeError` for a
 * `maxPendingPerUserAgent` that is not a positive integer or `Infinity`
 */
export async function startPushService(options: PushServiceOptions = {}): Promise<PushService> {
  const {
    port = 0,
    host = '127.0.0.1',
    faults: initialFaults = {},
    maxMessageBytes = 4096,
    maxTtlSeconds = 30 * 24 * 60 * 60,
    maxPendingPerUserAgent = DEFAULT_MAX_PENDING_PER_USER_AGENT,
    secure = false,
    securePort = 0,
  } = options;

  let faults = validateFaults(initialFaults);
  validatePendingLimit(maxPendingPerUserAgent);
  const tls =
    secure === true
      ? createSelfSignedCertificate({ hosts: certificateHosts(host) })
      : secure === false
        ? null
        : secure;
  const counters: Counters = createCounters();
  const context: ServiceContext = {
    url: '',
    registry: createRegistry(),
    counters,
    events: createEmitter<PushServiceEvents>(),
    acks: [],
    faults: () => faults,
    random: createRandom(faults.seed ?? DEFAULT_FAULT_SEED),
    maxPendingPerUserAgent,
  };

  const server = createServer();
  const wss = acceptUserAgents(server, context);
  const wsPort = await listen(server, port, host);
  const endpoint = createPushEndpoint(context, { maxMessageBytes, maxTtlSeconds });
  let secureServer: SecureServer | null = null;
  if (tls) {
    try {
      secureServer = await startSecureServer({ host, port: securePort, tls, handler: endpoint });
    } catch (error) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw error;
    }
    context.url = `https://${secureHostOf(host)}:${secureServer.port}`;
    // One origin for endpoints, Location and the VAPID audience: the plain server only says where.
    server.on('request', createElsewhereListener(context));
  } else {
    context.url = `http://${plainHostOf(host)}:${wsPort}`;
    server.on('request', (request, response) => endpoint(http1Exchange(request, response)));
  }

  // Messages of user agents that never come back must not pile up until someone reads stats.
  const sweep = setInterval(() => {
    reportRemoved(context, context.registry.expireAll(Date.now()));
  }, EXPIRY_SWEEP_MS);
  sweep.unref();

  let closing: Promise<void> | null = null;

  return {
    url: context.url,
    origin: context.url,
    wsUrl: `ws://${plainHostOf(host)}:${wsPort}/`,
    port: wsPort,
    securePort: secureServer?.port ?? null,
    ca: tls?.cert ?? null,
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
        const plainClosed = new Promise<void>((done) => {
          wss.close(() => {
            server.close(() => {
              clearTimeout(force);
              done();
            });
            server.closeAllConnections();
          });
        });
        void Promise.all([plainClosed, secureServer?.close()]).then(() => resolve());
      });
      return closing;
    },
  };
}
