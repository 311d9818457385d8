/**
 * Test support: raw HTTP/2 frames, for tests that speak the protocol byte by byte.
 * @packageDocumentation
 */

/**
 * One frame as bytes.
 * @param type - frame type
 * @param flags - frame flags
 * @param streamId - stream, or 0
 * @param payload - the payload
 * @returns header and payload
 */
export function rawFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array | number[] = [],
): Buffer {
  const body = Buffer.from(payload);
  const header = Buffer.alloc(9);
  header.writeUIntBE(body.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, body]);
}
