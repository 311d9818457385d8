/**
 * An HTTP proxy that holds every request for a fixed time before forwarding it: a push service
 * `delayMs` away, as FCM or autopush are from a real server, with the local push service's
 * checks and storage behind it. Requests are forwarded unchanged (the `Host` and the VAPID
 * audience stay the service's), over keep-alive sockets.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running proxy. */
export interface DelayProxy {
  /** Requests forwarded so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/** Options of {@link startDelayProxy}. */
export interface DelayProxyOptions {
  /** Address and port to listen on. */
  host: string;
  port: number;
  /** Where requests go. */
  target: { host: string; port: number };
  /** Added to every request's round trip. */
  delayMs: number;
}

/**
 * Starts the proxy.
 * @param options - where it listens, where it forwards, the delay
 * @returns the proxy, listening
 */
export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const { target, delayMs } = options;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      setTimeout(() => {
        requests += 1;
        const forwarded = http.request(
          {
            host: target.host,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
            agent,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        forwarded.on('error', () => {
          res.writeHead(502);
          res.end();
        });
        forwarded.end(Buffer.concat(chunks));
      }, delayMs);
    });
  });
  // Senders keep their sockets between events.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  if ((server.address() as AddressInfo).port !== options.port) throw new Error('bench: proxy port');
  return {
    get requests() {
      return requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
