/**
 * A TCP proxy for the stream fault suite: it cuts connections after every N stream events and
 * delivers what the server sends in small, delayed pieces, as slow networks and proxies do.
 */
import { connect, createServer, type Socket } from 'node:net';

/** Options of {@link startChaosProxy}. */
export interface ChaosProxyOptions {
  /** Where to forward (host and port of the server). */
  upstream: { host: string; port: number };
  /**
   * Cut a connection (both sides) after it carried this many envelope events (`id:` lines).
   * 0 never cuts.
   */
  cutEvery?: number;
  /** Split each chunk from the server into pieces of at most this many bytes. 0 keeps chunks. */
  maxPieceBytes?: number;
  /** Wait up to this long (uniformly drawn) before each piece. */
  maxDelayMs?: number;
  /** Deterministic pseudo-random draws. */
  seed?: number;
}

/** The running proxy. */
export interface ChaosProxy {
  port: number;
  stats: { connections: number; cuts: number; pieces: number; events: number };
  close(): Promise<void>;
}

const EVENT_MARK = Buffer.from('\nid: ');

/** Counts envelope events in a chunk (each starts a line with `id: `). */
function countEvents(chunk: Buffer, carry: { tail: Buffer }): number {
  const data = Buffer.concat([carry.tail, chunk]);
  let count = 0;
  for (let at = data.indexOf(EVENT_MARK); at !== -1; at = data.indexOf(EVENT_MARK, at + 1)) count++;
  carry.tail = data.subarray(Math.max(0, data.length - EVENT_MARK.length + 1));
  return count;
}

/**
 * Starts the proxy on a free port.
 * @param options - see {@link ChaosProxyOptions}
 * @returns the proxy
 */
export async function startChaosProxy(options: ChaosProxyOptions): Promise<ChaosProxy> {
  const { upstream, cutEvery = 0, maxPieceBytes = 0, maxDelayMs = 0, seed = 1 } = options;
  let state = seed >>> 0 || 1;
  const random = () => {
    // xorshift32: the same draws for the same seed.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const stats = { connections: 0, cuts: 0, pieces: 0, events: 0 };
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    stats.connections++;
    const server = connect(upstream.port, upstream.host);
    sockets.add(client);
    sockets.add(server);
    const carry = { tail: Buffer.alloc(0) };
    let events = 0;
    let queue = Promise.resolve();
    let cut = false;
    const destroy = () => {
      client.destroy();
      server.destroy();
    };
    client.on('close', () => {
      sockets.delete(client);
      server.destroy();
    });
    server.on('close', () => {
      sockets.delete(server);
      // What is queued still goes out, then the client sees the end.
      void queue.then(() => client.end());
    });
    client.on('error', destroy);
    server.on('error', destroy);
    client.pipe(server);
    server.on('data', (chunk: Buffer) => {
      if (cut) return;
      const pieces: Buffer[] = [];
      if (maxPieceBytes > 0) {
        for (let at = 0; at < chunk.length; ) {
          const size = 1 + Math.floor(random() * maxPieceBytes);
          pieces.push(chunk.subarray(at, at + size));
          at += size;
        }
      } else if (cutEvery > 0) {
        // One piece per event, so that a cut can fall in the middle of a backlog.
        let start = 0;
        for (let end = chunk.indexOf('\n\n'); end !== -1; end = chunk.indexOf('\n\n', start)) {
          pieces.push(chunk.subarray(start, end + 2));
          start = end + 2;
        }
        if (start < chunk.length) pieces.push(chunk.subarray(start));
      } else pieces.push(chunk);
      for (const piece of pieces) {
        const delay = maxDelayMs > 0 ? random() * maxDelayMs : 0;
        queue = queue.then(async () => {
          if (cut) return;
          if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
          if (cut || client.destroyed) return;
          client.write(piece);
          stats.pieces++;
          const seen = countEvents(piece, carry);
          events += seen;
          stats.events += seen;
          if (cutEvery > 0 && events >= cutEvery) {
            cut = true;
            stats.cuts++;
            destroy();
          }
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    stats,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
