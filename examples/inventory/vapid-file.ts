import { readFile, writeFile } from 'node:fs/promises';
import { generateVapidKeys } from '../../server/index.js';

/** A VAPID identity as the example keeps it on disk. */
export interface VapidIdentity {
  subject: string;
  publicKey: string;
  privateKey: string;
}

/** Subject of the example's VAPID JWTs (RFC 8292 wants a contact: mailto: or https:). */
export const EXAMPLE_VAPID_SUBJECT = 'mailto:inventory@example.com';

/**
 * Reads the VAPID keys from `file`, or generates them and writes the file (mode 0600).
 * @param file - path of the JSON file
 * @returns the identity
 * @remarks Keeping the keys matters: a browser's push subscription is bound to the public key,
 * so new keys on every start would force every browser to subscribe again.
 */
export async function loadOrCreateVapid(file: string): Promise<VapidIdentity> {
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as Partial<VapidIdentity>;
    if (typeof stored.publicKey === 'string' && typeof stored.privateKey === 'string') {
      return {
        subject: stored.subject ?? EXAMPLE_VAPID_SUBJECT,
        publicKey: stored.publicKey,
        privateKey: stored.privateKey,
      };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const identity = { subject: EXAMPLE_VAPID_SUBJECT, ...generateVapidKeys() };
  await writeFile(file, `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o600 });
  return identity;
}
