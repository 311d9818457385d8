/**
 * HTTP/1.1 to one push-service origin: a keep-alive agent, a deadline per request, no
 * redirects.
 * @packageDocumentation
 */
import http from 'node:http';
import https from 'node:https';
import { PushRequestError } from './errors.js';
import {
  firstHeader,
  MAX_RESPONSE_BYTES,
  type OriginTransport,
  pushHeaders,
} from './http-types.js';

/** Options of {@link createHttp1Transport}. */
export interface Http1TransportOptions {
  /** https or http. */
  secure: boolean;
  /** Sockets kept per origin: the lane's concurrency. */
  maxSockets: number;
  /** Deadline of one request, milliseconds. */
  timeoutMs: number;
  /** A keep-alive socket idle for this long is closed, milliseconds. */
  idleTimeoutMs: number;
  /** Trusted certificates for https, replacing Node's default CAs when set. */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
}

/**
 * Creates the HTTP/1.1 transport of one origin.
 * @param options - scheme, socket bound, deadline and trust
 * @returns the transport
 * @remarks Redirects are never followed: `node:http` does not, and a 3xx is returned as is.
 * A response body is read and discarded; past 64 KiB the socket is destroyed (the status is
 * kept).
 */
export function createHttp1Transport({
  secure,
  maxSockets,
  timeoutMs,
  idleTimeoutMs,
  ca,
}: Http1TransportOptions): OriginTransport {
  // The agent's `timeout` closes sockets idle in its free list (the deadline of a request is
  // the timer below).
  const agentOptions = { keepAlive: true, maxSockets, timeout: idleTimeoutMs };
  const agent = secure
    ? new https.Agent({ ...agentOptions, ...(ca === undefined ? {} : { ca }) })
    : new http.Agent(agentOptions);
  const transport = secure ? https : http;
  const inFlight = new Set<http.ClientRequest>();

  return {
    request(request, listener) {
      const { endpoint } = request;
      let settled = false;
      let status = 0;
      let retryAfter: string | undefined;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        inFlight.delete(req);
        if (status > 0) listener.answered(request, status, retryAfter);
        else {
          listener.failed(
            request,
            error ?? new PushRequestError('PUSH_NETWORK', 'connection closed'),
          );
        }
      };
      const req = transport.request(
        {
          hostname: endpoint.hostname,
          port: endpoint.port,
          path: endpoint.path,
          method: 'POST',
          headers: pushHeaders(request),
          agent,
        },
        (res) => {
          status = res.statusCode ?? 0;
          retryAfter = firstHeader(res.headers['retry-after']);
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > MAX_RESPONSE_BYTES) res.destroy();
          });
          res.on('error', () => settle());
          res.on('end', () => settle());
          res.on('close', () => settle());
        },
      );
      const timer = setTimeout(() => {
        req.destroy(
          new PushRequestError(
            'PUSH_TIMEOUT',
            `no answer from ${endpoint.origin} in ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      inFlight.add(req);
      req.on('error', (error) => {
        settle(
          error instanceof PushRequestError
            ? error
            : new PushRequestError(
                'PUSH_NETWORK',
                `request to ${endpoint.origin} failed: ${error.message}`,
                { cause: error },
              ),
        );
      });
      req.end(request.body);
    },
    close(error) {
      for (const req of inFlight) req.destroy(error);
      inFlight.clear();
      agent.destroy();
    },
  };
}
