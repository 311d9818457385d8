import { ERROR_STATUS, type ErrorCode } from '../../protocol/index.js';
import { errorBody } from '../errors.js';

/** Builds the plugin's JSON responses with the server's own `Response` class. */
export interface Responder {
  /** A JSON response; route answers are per tab, so never cached. */
  json(body: unknown, status?: number, headers?: Record<string, string>): Response;
  /** A refusal with the status of `ERROR_STATUS[code]`. */
  error(code: ErrorCode, message: string, headers?: Record<string, string>): Response;
}

/**
 * Creates a {@link Responder}.
 * @param ResponseClass - the `Response` of Yoga's fetch API, so the server adapter gets the kind
 * of response it expects
 * @returns the responder
 */
export function createResponder(ResponseClass: typeof Response): Responder {
  const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
    new ResponseClass(JSON.stringify(body), {
      status,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        ...headers,
      },
    });
  return {
    json,
    error: (code, message, headers) => json(errorBody(code, message), ERROR_STATUS[code], headers),
  };
}
