/**
 * Listening, and the names clients use to reach what listens.
 */
import type { AddressInfo, Server } from 'node:net';

/**
 * Starts listening.
 * @param server - a `node:http`, `node:https` or `node:http2` server
 * @param port - the port, 0 for a free one
 * @param host - the interface
 * @returns the port listened on
 * @throws what `listen` fails with (e.g. `EADDRINUSE`)
 */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

const WILDCARDS: ReadonlySet<string> = new Set(['0.0.0.0', '::']);

/**
 * The host of plain URLs for a listening interface: a wildcard is reached on 127.0.0.1, an IPv6
 * address goes in brackets.
 */
export function plainHostOf(host: string): string {
  if (WILDCARDS.has(host)) return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The host of https URLs for a listening interface: `localhost` for IPv4 loopback and wildcards,
 * since certificate checks by name work with every client (an IP address needs an IP entry and
 * cannot be sent as TLS server name); any other host as it is.
 */
export function secureHostOf(host: string): string {
  if (host === '127.0.0.1' || host === 'localhost' || WILDCARDS.has(host)) return 'localhost';
  return plainHostOf(host);
}
