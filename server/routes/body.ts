import { ErrorCode } from '../../protocol/index.js';
import { createWebPushError } from '../errors.js';
import { mediaTypeOf } from '../guard.js';

/**
 * Reads a route's JSON body, refusing it before and while reading when it is too big.
 *
 * @param request - the incoming request
 * @param maxBytes - most body bytes accepted
 * @returns the parsed JSON value
 * @throws WEB_PUSH_UNSUPPORTED_MEDIA_TYPE unless the body is `application/json`;
 * WEB_PUSH_TOO_LARGE when `Content-Length` or the bytes actually read exceed `maxBytes`;
 * WEB_PUSH_BAD_REQUEST on invalid UTF-8 or invalid JSON
 * @remarks The declared length is checked first so a large upload is refused without reading it,
 * and the read bytes are counted too because the header may be absent (chunked) or lie.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  // No simple request (a cross-site form, `sendBeacon` with a string) has this type.
  if (mediaTypeOf(request) !== 'application/json') {
    throw createWebPushError(
      ErrorCode.UnsupportedMediaType,
      'Content-Type must be application/json',
    );
  }
  const declared = request.headers.get('content-length');
  if (declared !== null && !(Number(declared) <= maxBytes)) {
    throw tooLarge(maxBytes);
  }
  const bytes = await readLimited(request, maxBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw createWebPushError(ErrorCode.BadRequest, 'Body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw createWebPushError(ErrorCode.BadRequest, 'Body is not valid JSON');
  }
}

const tooLarge = (maxBytes: number) =>
  createWebPushError(ErrorCode.TooLarge, `Body is larger than ${maxBytes} bytes`);

async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Stop the upload instead of draining it.
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
