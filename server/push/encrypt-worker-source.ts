/**
 * The encryption worker's program, as text for `new Worker(source, { eval: true })`.
 * @packageDocumentation
 */
import { encryptPackedBatch } from './encrypt-batch.js';
import { createEncryptor } from './encrypt-kernel.js';

let source: string | undefined;

/**
 * The worker's program: the kernel and the batch loop from their own function text, plus a
 * message handler.
 * @returns CommonJS source that needs only `node:crypto` and `node:worker_threads`
 * @remarks Built from the functions' source so that both threads run one implementation, and
 * evaluated rather than loaded from a file so that it runs the same from the TypeScript sources
 * (vitest, tsx) and from the compiled `dist/`, or after bundling: there is no worker file to
 * locate and no loader to register in the worker. `__name` is defined because tsx (esbuild
 * `keepNames`) wraps named inner functions in that helper, which the worker would not have.
 * A batch that throws is answered with its error, and the pool encrypts it on the event loop.
 */
export function encryptionWorkerSource(): string {
  source ??= `'use strict';
const __name = (target) => target;
const crypto = require('node:crypto');
const { parentPort } = require('node:worker_threads');
const createEncryptor = (${createEncryptor.toString()});
const encryptPackedBatch = (${encryptPackedBatch.toString()});
const encryptInto = createEncryptor(crypto);
parentPort.on('message', (message) => {
  let output;
  try {
    output = encryptPackedBatch(encryptInto, message.input);
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String(error && error.stack || error) });
    return;
  }
  parentPort.postMessage({ id: message.id, output }, [output]);
});
`;
  return source;
}
