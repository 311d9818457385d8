/**
 * A TCP relay that holds every chunk for half the round trip in each direction: a push service
 * `delayMs` away, as FCM or autopush are from a real server, with the local push service's
 * checks and storage behind it. It relays bytes, not requests, so TLS, HTTP/2 and HTTP/1.1 pass
 * through unchanged (the certificate, `Host` and the VAPID audience stay the service's), and
 * every round trip on a connection (handshake, request and answer, WINDOW_UPDATE) pays the delay.
 */
import net from 'node:net';

/** A running relay. */
export interface DelayProxy {
  /** Connections relayed so far. */
  readonly connections: number;
  /** Bytes relayed towards the service so far. */
  readonly bytes: number;
  close(): Promise<void>;
}

/** Options of {@link startDelayProxy}. */
export interface DelayProxyOptions {
  /** Address and port to listen on. */
  host: string;
  port: number;
  /** Where connections go. */
  target: { host: string; port: number };
  /** Added to every round trip: half on the way there, half on the way back. */
  delayMs: number;
}

/**
 * Starts the relay.
 * @param options - where it listens, where it relays to, the delay
 * @returns the relay, listening
 */
export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const { target, delayMs } = options;
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let bytes = 0;
  /** Chunks keep their order: every chunk of one direction waits the same time. */
  const relay = (from: net.Socket, to: net.Socket, count: boolean) => {
    from.on('data', (chunk: Buffer) => {
      if (count) bytes += chunk.length;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, delayMs / 2);
    });
    from.on('end', () => setTimeout(() => to.end(), delayMs / 2));
    from.on('close', () => setTimeout(() => to.destroy(), delayMs / 2));
    from.on('error', () => {});
  };
  const server = net.createServer((client) => {
    connections += 1;
    client.setNoDelay(true);
    const service = net.connect({ host: target.host, port: target.port, noDelay: true });
    for (const socket of [client, service]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    relay(client, service, true);
    relay(service, client, false);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  if ((server.address() as net.AddressInfo).port !== options.port) {
    throw new Error('bench: proxy port');
  }
  return {
    get connections() {
      return connections;
    },
    get bytes() {
      return bytes;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
