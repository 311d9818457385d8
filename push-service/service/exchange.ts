/**
 * One request to the application-server side and its answer, whichever way it came: a
 * `node:http` request (plain HTTP/1.1, or HTTPS/1.1 on the secure server) or an HTTP/2 stream.
 *
 * HTTP/2 streams are taken from `node:http2`'s core API rather than its compatibility API: the
 * compatibility layer builds a request and a response object, with their streams' state, around
 * every stream, and a push service takes one stream per message.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';

/** A request and the way to answer it. */
export interface PushExchange {
  /** The request method. */
  readonly method: string | undefined;
  /** The request target as sent: a path, with its query if any. */
  readonly url: string | undefined;
  /** The body, as a stream of chunks. */
  readonly body: Readable;
  /**
   * One request header, repeated values joined with commas.
   * @param name - lower case
   */
  header(name: string): string | undefined;
  /**
   * Answers, once; what the client still sends is read and dropped, so that it reads the answer
   * rather than a reset. Does nothing when the client has gone.
   * @param status - HTTP status
   * @param headers - response headers: an object of the caller's own, which the exchange may add
   *   to (HTTP/2's `:status`) rather than copy
   * @param body - response body, if any
   */
  respond(status: number, headers?: OutgoingHttpHeaders, body?: string): void;
}

const joined = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(',') : value;

/** `respond`'s options, the same two objects for every answer. */
const END_STREAM = Object.freeze({ endStream: true });
const KEEP_OPEN = Object.freeze({ endStream: false });

/** Stream errors (a client's reset) end the exchange; nothing else is owed to them. */
const ignore = (): void => {};

/** A `node:http` request; the same for the plain server and HTTPS/1.1 on the secure one. */
class Http1Exchange implements PushExchange {
  constructor(
    private readonly request: IncomingMessage,
    private readonly response: ServerResponse,
  ) {}

  get method(): string | undefined {
    return this.request.method;
  }

  get url(): string | undefined {
    return this.request.url;
  }

  get body(): Readable {
    return this.request;
  }

  header(name: string): string | undefined {
    return joined(this.request.headers[name]);
  }

  respond(status: number, headers?: OutgoingHttpHeaders, body?: string): void {
    this.request.resume();
    if (this.response.headersSent || this.response.destroyed) return;
    this.response.writeHead(status, headers);
    this.response.end(body);
  }
}

/**
 * An HTTP/2 stream. A class, not a closure per stream: one object per message, whose methods
 * are shared.
 */
class Http2Exchange implements PushExchange {
  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
  ) {
    stream.on('error', ignore);
  }

  get method(): string | undefined {
    return this.headers[':method'];
  }

  get url(): string | undefined {
    return this.headers[':path'];
  }

  get body(): Readable {
    return this.stream;
  }

  header(name: string): string | undefined {
    return joined(this.headers[name]);
  }

  respond(status: number, headers?: OutgoingHttpHeaders, body?: string): void {
    const { stream } = this;
    stream.resume();
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    const fields = headers ?? {};
    fields[':status'] = status;
    stream.respond(fields, body === undefined ? END_STREAM : KEEP_OPEN);
    if (body !== undefined) stream.end(body);
  }
}

/**
 * The exchange of a `node:http` request.
 * @param request - the request
 * @param response - its response
 * @returns the exchange
 */
export function http1Exchange(request: IncomingMessage, response: ServerResponse): PushExchange {
  return new Http1Exchange(request, response);
}

/**
 * The exchange of an HTTP/2 stream (the secure server's `stream` event).
 * @param stream - the stream
 * @param headers - its request headers
 * @returns the exchange
 */
export function http2Exchange(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
): PushExchange {
  return new Http2Exchange(stream, headers);
}
