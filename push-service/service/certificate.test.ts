import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect as connectHttp2, createSecureServer, type Http2SecureServer } from 'node:http2';
import { get } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSelfSignedCertificate, DEFAULT_CERTIFICATE_HOSTS } from './certificate.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('createSelfSignedCertificate', () => {
  it('makes a P-256 certificate for localhost, 127.0.0.1 and ::1 that verifies with its own key', () => {
    const { key, cert } = createSelfSignedCertificate();
    const x509 = new X509Certificate(cert);
    expect(DEFAULT_CERTIFICATE_HOSTS).toEqual(['localhost', '127.0.0.1', '::1']);
    expect(x509.subject).toBe('CN=localhost');
    expect(x509.issuer).toBe('CN=localhost');
    expect(x509.subjectAltName).toBe(
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.checkIP('::1')).toBe('::1');
    expect(x509.checkHost('example.com')).toBeUndefined();
    expect(x509.checkIP('127.0.0.2')).toBeUndefined();
    expect(x509.ca).toBe(true);
    expect(x509.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(createPrivateKey(key).asymmetricKeyType).toBe('ec');
    expect(x509.verify(createPublicKey(key))).toBe(true);
    expect(x509.verify(createPublicKey(createSelfSignedCertificate().key))).toBe(false);
    expect(x509.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(x509.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
  });

  it('is valid from an hour ago for the given number of days', () => {
    const before = Date.now();
    const x509 = new X509Certificate(createSelfSignedCertificate({ days: 2 }).cert);
    const from = Date.parse(x509.validFrom);
    const to = Date.parse(x509.validTo);
    // Certificate times have whole seconds.
    expect(Math.abs(from - (before - 60 * 60 * 1000))).toBeLessThan(2000);
    expect(Math.abs(to - (before + 2 * DAY_MS))).toBeLessThan(2000);
  });

  it('names any DNS names and IPv4 or IPv6 addresses, the first as common name', () => {
    const { cert } = createSelfSignedCertificate({
      hosts: ['push.test', '*.push.test', '10.1.2.3', 'fe80::1:2', '::ffff:1.2.3.4'],
    });
    const x509 = new X509Certificate(cert);
    expect(x509.subject).toBe('CN=push.test');
    expect(x509.subjectAltName).toBe(
      'DNS:push.test, DNS:*.push.test, IP Address:10.1.2.3, IP Address:FE80:0:0:0:0:0:1:2, IP Address:0:0:0:0:0:FFFF:102:304',
    );
    expect(x509.checkHost('a.push.test')).toBe('*.push.test');
    expect(x509.checkIP('fe80::1:2')).toBe('fe80::1:2');
  });

  it('refuses no hosts, a host that is neither, and days that are not positive', () => {
    expect(() => createSelfSignedCertificate({ hosts: [] })).toThrow(RangeError);
    expect(() => createSelfSignedCertificate({ hosts: ['bad host'] })).toThrow(
      new RangeError('not an IP address or DNS name: "bad host"'),
    );
    expect(() => createSelfSignedCertificate({ hosts: ['-x.test'] })).toThrow(RangeError);
    for (const days of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createSelfSignedCertificate({ days })).toThrow(RangeError);
    }
  });
});

describe('a TLS handshake with the certificate', () => {
  let server: Http2SecureServer | undefined;
  const sockets = new Set<Socket>();

  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  const serve = async (credentials: { key: string; cert: string }) => {
    server = createSecureServer({ ...credentials, allowHTTP1: true }, (_, res) => {
      res.end('ok');
    });
    server.on('connection', (socket: Socket) => sockets.add(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  };

  const fetchText = (url: string, ca?: string) =>
    new Promise<string>((resolve, reject) => {
      get(url, { ca }, (res) => {
        res.setEncoding('utf8');
        let text = '';
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });

  it('is trusted with ca: cert, by name and by address', async () => {
    const credentials = createSelfSignedCertificate();
    const port = await serve(credentials);
    expect(await fetchText(`https://localhost:${port}/`, credentials.cert)).toBe('ok');
    expect(await fetchText(`https://127.0.0.1:${port}/`, credentials.cert)).toBe('ok');
  });

  it('is refused without it, or with another certificate as ca', async () => {
    const credentials = createSelfSignedCertificate();
    const port = await serve(credentials);
    await expect(fetchText(`https://localhost:${port}/`)).rejects.toMatchObject({
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    await expect(
      fetchText(`https://localhost:${port}/`, createSelfSignedCertificate().cert),
    ).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('is refused for a host it does not name', async () => {
    const credentials = createSelfSignedCertificate({ hosts: ['push.test'] });
    const port = await serve(credentials);
    await expect(fetchText(`https://localhost:${port}/`, credentials.cert)).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('negotiates h2 with http2.connect', async () => {
    const credentials = createSelfSignedCertificate();
    const port = await serve(credentials);
    const session = connectHttp2(`https://localhost:${port}`, { ca: credentials.cert });
    try {
      const stream = session.request({ ':path': '/' });
      const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
      expect(headers[':status']).toBe(200);
      expect(session.alpnProtocol).toBe('h2');
      expect(session.encrypted).toBe(true);
      stream.resume();
      await once(stream, 'end');
    } finally {
      session.destroy();
    }
  });
});
