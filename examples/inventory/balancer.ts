/**
 * The balancer of `npm run start:cluster`: one URL in front of the instances, each request sent
 * to the next one in turn (no sticky sessions), bodies streamed both ways so the tab's stream
 * (`…/push/stream`, Server-Sent Events) passes through as it is written.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options of {@link startBalancer}. */
export interface BalancerOptions {
  /** The instances' origins, `http://127.0.0.1:PORT`. */
  backends: string[];
  /**
   * Port to listen on; 0 picks a free one.
   * @defaultValue 0
   */
  port?: number;
  /**
   * Interface to listen on.
   * @defaultValue '127.0.0.1'
   */
  host?: string;
  /**
   * How long a backend that refused a connection is skipped.
   * @defaultValue 2_000
   */
  downMs?: number;
  /** Called with each request as it is sent to a backend (to watch the spread). */
  onForward?: (route: { method: string; path: string; backend: string }) => void;
}

/** A running balancer. */
export interface Balancer {
  /** `http://localhost:PORT/`: what the tabs open. */
  url: string;
  /** Requests answered, per backend origin. */
  served: Map<string, number>;
  close(): Promise<void>;
}

/** Headers that belong to one connection, not to the request or response they travel with. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer'];

const withoutHopByHop = (headers: IncomingMessage['headers']) => {
  const copy = { ...headers };
  for (const name of HOP_BY_HOP) delete copy[name];
  return copy;
};

/**
 * Starts the balancer.
 * @param options - see {@link BalancerOptions}
 * @returns the balancer, once it listens
 * @remarks The request body is sent only once the connection to a backend is open, so a request
 * to a dead instance (connection refused) goes to the next one instead of failing. A stream whose
 * instance dies ends at the tab, which reconnects through the balancer to a live one and resumes
 * from its positions. `Host` passes unchanged: the plugin's same-origin check compares the page's
 * `Origin` with it.
 */
export async function startBalancer({
  backends,
  port = 0,
  host = '127.0.0.1',
  downMs = 2_000,
  onForward,
}: BalancerOptions): Promise<Balancer> {
  const targets = backends.map((origin) => new URL(origin));
  const downUntil = new Map<string, number>();
  const served = new Map<string, number>();
  let next = 0;

  /** The next backend in turn that is not marked down, or any when all are. */
  const pick = (): URL | undefined => {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(next + i) % targets.length];
      if (target && (downUntil.get(target.origin) ?? 0) <= Date.now()) {
        next = (next + i + 1) % targets.length;
        return target;
      }
    }
    return targets[next++ % targets.length];
  };

  const forward = (incoming: IncomingMessage, response: ServerResponse, tries: number) => {
    const target = pick();
    if (!target) {
      response.writeHead(502, { 'content-type': 'text/plain' }).end('No instance configured');
      return;
    }
    let bodySent = false;
    onForward?.({
      method: incoming.method ?? 'GET',
      path: incoming.url ?? '/',
      backend: target.origin,
    });
    const outgoing = request(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: withoutHopByHop(incoming.headers),
        // A fresh connection per request: a refused one is then always retryable.
        agent: false,
      },
      (answer) => {
        served.set(target.origin, (served.get(target.origin) ?? 0) + 1);
        response.writeHead(answer.statusCode ?? 502, withoutHopByHop(answer.headers));
        // Send the head now: a stream's first event may be a while away.
        response.flushHeaders();
        answer.pipe(response);
        // An instance that dies mid-response ends the tab's response, which then reconnects.
        answer.once('aborted', () => response.destroy());
        answer.once('error', () => response.destroy());
      },
    );
    outgoing.once('socket', (socket) => {
      const send = () => {
        bodySent = true;
        incoming.pipe(outgoing);
      };
      if (socket.connecting) socket.once('connect', send);
      else send();
    });
    outgoing.once('error', () => {
      if (!bodySent && tries > 1) {
        downUntil.set(target.origin, Date.now() + downMs);
        forward(incoming, response, tries - 1);
      } else if (!response.headersSent) {
        response.writeHead(502, { 'content-type': 'text/plain' }).end('No instance answered');
      } else {
        response.destroy();
      }
    });
    // The tab went away (a closed stream): stop reading from the instance.
    response.once('close', () => {
      if (!response.writableFinished) outgoing.destroy();
    });
  };

  const server = createServer((incoming, response) => forward(incoming, response, targets.length));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: boundPort } = server.address() as AddressInfo;

  return {
    url: `http://localhost:${boundPort}/`,
    served,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
