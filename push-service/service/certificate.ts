/**
 * A self-signed TLS certificate made with node:crypto alone, so that the push service (and any
 * test server) can speak HTTPS and HTTP/2 without files, tools or dependencies: an ECDSA P-256
 * key and a minimal X.509 v3 certificate (RFC 5280) signed with ecdsa-with-SHA256, naming its
 * hosts in subjectAltName (what clients check; the common name is only for people).
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import {
  bitString,
  boolean,
  explicit,
  implicit,
  integer,
  octetString,
  oid,
  sequence,
  set,
  time,
  utf8String,
} from './der.js';

/** A private key and its certificate, both PEM: what `tls`, `https` and `http2` servers take. */
export interface TlsCertificate {
  /** PKCS #8 private key, PEM. */
  key: string;
  /** X.509 certificate, PEM; also what clients pass as `ca` to trust it. */
  cert: string;
}

/** Options of {@link createSelfSignedCertificate}. */
export interface SelfSignedCertificateOptions {
  /**
   * Host names and IP addresses the certificate is for; the first is also its common name.
   * @defaultValue ['localhost', '127.0.0.1', '::1']
   */
  hosts?: string[];
  /**
   * Days the certificate stays valid from now (it is valid from an hour ago, for clocks a little
   * behind).
   * @defaultValue 30
   */
  days?: number;
}

/** Hosts of a certificate made without `hosts`: the loopback names a local client uses. */
export const DEFAULT_CERTIFICATE_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
} as const;

const DNS_NAME =
  /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** The 16 bytes of an IPv6 address (`::` shorthand and a dotted IPv4 tail allowed). */
function ipv6Bytes(address: string): Buffer {
  let text = address.split('%')[0] ?? '';
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const [head = '', tail] = text.split('::');
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const all =
    tail === undefined
      ? before
      : [...before, ...Array<string>(8 - before.length - after.length).fill('0'), ...after];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => {
    bytes.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  });
  return bytes;
}

/** A subjectAltName entry: `[2] dNSName` or `[7] iPAddress` (4 or 16 bytes). */
function generalName(host: string): Buffer {
  const version = isIP(host);
  if (version === 4) return implicit(7, Buffer.from(host.split('.').map(Number)));
  if (version === 6) return implicit(7, ipv6Bytes(host));
  return implicit(2, Buffer.from(host.toLowerCase(), 'ascii'));
}

/** `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`. */
const extension = (id: string, critical: boolean, value: Buffer) =>
  sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));

const toPem = (label: string, der: Buffer) =>
  `-----BEGIN ${label}-----\n${der
    .toString('base64')
    .replace(/.{64}/g, '$&\n')
    .replace(/\n$/, '')}\n-----END ${label}-----\n`;

/**
 * Makes a new key pair and a self-signed certificate for `hosts`.
 * @param options - hosts and lifetime
 * @returns the private key and certificate, PEM
 * @remarks The certificate is its own CA (basicConstraints CA:TRUE, keyUsage digitalSignature
 * and keyCertSign): a client trusts it by passing `cert` as `ca`, e.g.
 * `http2.connect(url, { ca: cert })` or `new https.Agent({ ca: cert })`. Each call makes a new
 * key, so certificates made by separate calls do not trust each other.
 * @throws RangeError for no hosts, a host that is neither an IP address nor a DNS name, or a
 * `days` that is not a positive number
 */
export function createSelfSignedCertificate(
  options: SelfSignedCertificateOptions = {},
): TlsCertificate {
  const { hosts = [...DEFAULT_CERTIFICATE_HOSTS], days = 30 } = options;
  const [commonName] = hosts;
  if (commonName === undefined) throw new RangeError('hosts must name at least one host');
  for (const host of hosts) {
    if (isIP(host) === 0 && !(host.length <= 253 && DNS_NAME.test(host))) {
      throw new RangeError(`not an IP address or DNS name: ${JSON.stringify(host)}`);
    }
  }
  if (!(Number.isFinite(days) && days > 0)) {
    throw new RangeError(`days must be a positive number, got ${String(days)}`);
  }

  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  const name = sequence(set(sequence(oid(OID.commonName), utf8String(commonName))));
  const now = Date.now();
  // 16 random bytes, high bit clear so the serial is positive in exactly 16 bytes.
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  const tbs = sequence(
    explicit(0, integer(2)), // v3
    integer(serial),
    algorithm,
    name, // issuer
    sequence(time(new Date(now - HOUR_MS)), time(new Date(now + days * DAY_MS))),
    name, // subject: the same, it signs itself
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      sequence(
        extension(OID.subjectAltName, false, sequence(...hosts.map(generalName))),
        extension(OID.basicConstraints, true, sequence(boolean(true))),
        // digitalSignature (bit 0) and keyCertSign (bit 5): 1000 0100, the last 2 bits unused.
        extension(OID.keyUsage, true, bitString(Buffer.from([0x84]), 2)),
      ),
    ),
  );
  // node:crypto signs ECDSA as a DER Ecdsa-Sig-Value, the form X.509 wants.
  const signature = sign('sha256', tbs, privateKey);
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    cert: toPem('CERTIFICATE', sequence(tbs, algorithm, bitString(signature))),
  };
}
