/**
 * A tiny load balancer for the multi-instance tests: one URL in front of the instances, each
 * request forwarded to a random one (no sticky sessions), as a real deployment would.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** The balancer. */
export interface Balancer {
  /** `http://127.0.0.1:PORT/graphql`. */
  url: string;
  /** Replaces the instances requests go to (their `…/graphql` URLs). */
  setBackends(urls: string[]): void;
  /** Answers 503 to requests whose path matches, e.g. to stop renewals reaching any instance. */
  refuse(test: (path: string) => boolean): void;
  /** Requests forwarded, per backend origin. */
  forwarded: Map<string, number>;
  /** Streams (`…/push/stream`) open now, per backend origin. */
  openStreams: Map<string, number>;
  close(): Promise<void>;
}

/** Errors that mean the request never reached a live server: safe to send elsewhere. */
const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

/**
 * Starts the balancer on a free port.
 * @returns the balancer; `close()` it in `afterAll`
 * @remarks A request refused at the connection (the instance is gone) or reset on a reused
 * keep-alive socket is sent to another instance, up to three tries; bodies are small and
 * buffered, so it can be replayed.
 */
export async function startBalancer(): Promise<Balancer> {
  let backends: URL[] = [];
  let refused: (path: string) => boolean = () => false;
  const forwarded = new Map<string, number>();
  const openStreams = new Map<string, number>();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });

  const forward = (
    target: URL,
    incoming: IncomingMessage,
    body: Buffer,
  ): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const headers = { ...incoming.headers, host: target.host };
      delete headers.connection;
      const outgoing = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers,
          agent,
        },
        resolve,
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });

  const handle = async (incoming: IncomingMessage, response: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (refused(incoming.url ?? '')) {
      response.writeHead(503).end();
      return;
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const target = backends[Math.floor(Math.random() * backends.length)];
      if (!target) break;
      try {
        const answer = await forward(target, incoming, body);
        forwarded.set(target.origin, (forwarded.get(target.origin) ?? 0) + 1);
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        if ((incoming.url ?? '').includes('/push/stream') && answer.statusCode === 200) {
          const origin = target.origin;
          openStreams.set(origin, (openStreams.get(origin) ?? 0) + 1);
          let counted = true;
          const uncount = () => {
            if (!counted) return;
            counted = false;
            openStreams.set(origin, (openStreams.get(origin) ?? 1) - 1);
          };
          answer.once('close', uncount);
          response.once('close', uncount);
          // A backend that dies mid-stream ends the client's response: it reconnects elsewhere.
          answer.once('error', () => response.destroy());
          answer.once('aborted', () => response.destroy());
        }
        answer.pipe(response);
        return;
      } catch (error) {
        if (!RETRYABLE.has((error as NodeJS.ErrnoException).code ?? '')) break;
      }
    }
    response.writeHead(502).end();
  };

  const server = createServer((incoming, response) => {
    handle(incoming, response).catch(() => {
      if (!response.headersSent) response.writeHead(502);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/graphql`,
    setBackends(urls) {
      backends = urls.map((url) => new URL(url));
    },
    refuse(test) {
      refused = test;
    },
    forwarded,
    openStreams,
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
