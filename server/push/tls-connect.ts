/**
 * A TLS connection to a push service that offers HTTP/2 and HTTP/1.1 by ALPN.
 * @packageDocumentation
 */
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import type { PushEndpoint } from './endpoint.js';
import { PushRequestError } from './errors.js';

/** Options of {@link connectTls}. */
export interface ConnectTlsOptions {
  /** Trusted certificates, replacing Node's default CAs when set. */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  /** Deadline of the TCP connect and handshake, milliseconds. */
  timeoutMs: number;
}

/**
 * Connects and completes the handshake, offering `h2` then `http/1.1`.
 * @param endpoint - host and port to connect to (its hostname is also the SNI name, unless an
 * IP address)
 * @param options - trust and deadline
 * @returns the connected socket; `socket.alpnProtocol` says what the server chose
 * @throws {@link PushRequestError} `PUSH_NETWORK` when the connection or the certificate
 * check fails, `PUSH_TIMEOUT` past the deadline
 * @remarks The certificate is always verified (`rejectUnauthorized` stays on); `ca` is the
 * way to trust a private or test certificate authority.
 */
export function connectTls(
  endpoint: PushEndpoint,
  { ca, timeoutMs }: ConnectTlsOptions,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: endpoint.hostname,
      port: endpoint.port,
      ALPNProtocols: ['h2', 'http/1.1'],
      // RFC 6066: SNI carries host names only.
      ...(isIP(endpoint.hostname) === 0 ? { servername: endpoint.hostname } : {}),
      ...(ca === undefined ? {} : { ca }),
    });
    const timer = setTimeout(() => {
      fail(
        new PushRequestError(
          'PUSH_TIMEOUT',
          `no TLS handshake with ${endpoint.origin} in ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    function fail(error: Error): void {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    }
    const onError = (error: Error) => {
      fail(
        new PushRequestError(
          'PUSH_NETWORK',
          `connection to ${endpoint.origin} failed: ${error.message}`,
          { cause: error },
        ),
      );
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
