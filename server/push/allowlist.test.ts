import { describe, expect, it } from 'vitest';
import { createEndpointPolicy } from './allowlist.js';
import { InvalidPushArgumentError } from './errors.js';

const longPath = (total: number) => {
  const prefix = 'https://fcm.googleapis.com/fcm/send/';
  return prefix + 'a'.repeat(total - prefix.length);
};

describe('createEndpointPolicy: default push services', () => {
  const policy = createEndpointPolicy();

  it.each([
    'https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91b',
    'https://fcm.googleapis.com:443/fcm/send/abc',
    'https://FCM.googleapis.com/fcm/send/abc',
    'https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk',
    'https://web.push.apple.com/QGxK2Z',
    'https://api.development.push.apple.com/x',
    'https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB',
    longPath(2048),
  ])('accepts %s', (endpoint) => {
    const result = createEndpointPolicy().check(endpoint);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.url.href).toBe(new URL(endpoint).href);
  });

  it.each([
    ['http://fcm.googleapis.com/fcm/send/x', 'endpoint must use https'],
    ['https://fcm.googleapis.com:8443/fcm/send/x', 'endpoint must use the default https port'],
    ['https://user:pass@fcm.googleapis.com/x', 'endpoint must not contain user info'],
    ['https://@fcm.googleapis.com/x', 'endpoint must not contain user info'],
    ['https://fcm.googleapis.com@evil.example/x', 'endpoint must not contain user info'],
    [
      'https://evil.example/fcm.googleapis.com',
      'origin https://evil.example is not an allowed push service',
    ],
    [
      'https://fcm.googleapis.com.evil.example/x',
      'origin https://fcm.googleapis.com.evil.example is not an allowed push service',
    ],
    [
      'https://fcm.googleapis.com./x',
      'origin https://fcm.googleapis.com. is not an allowed push service',
    ],
    [
      'https://evilpush.apple.com/x',
      'origin https://evilpush.apple.com is not an allowed push service',
    ],
    ['https://push.apple.com/x', 'origin https://push.apple.com is not an allowed push service'],
    [
      'https://a..push.apple.com/x',
      'origin https://a..push.apple.com is not an allowed push service',
    ],
    [
      'https://notify.windows.com.evil.example/x',
      'origin https://notify.windows.com.evil.example is not an allowed push service',
    ],
    ['http://169.254.169.254/latest', 'endpoint must use https'],
    ['https://169.254.169.254/latest', 'endpoint host must not be an IP address'],
    ['https://127.0.0.1/x', 'endpoint host must not be an IP address'],
    ['https://2130706433/x', 'endpoint host must not be an IP address'],
    ['https://0x7f.1/x', 'endpoint host must not be an IP address'],
    ['https://[::1]/x', 'endpoint host must not be an IP address'],
    ['https://[::ffff:169.254.169.254]/x', 'endpoint host must not be an IP address'],
    ['ftp://fcm.googleapis.com/x', 'endpoint must use https'],
    ['file:///etc/passwd', 'endpoint must use https'],
    ['javascript:alert(1)', 'endpoint must use https'],
    ['data:text/plain,hi', 'endpoint must use https'],
    ['not a url', 'endpoint contains spaces or control characters'],
    ['fcm.googleapis.com/fcm/send/x', 'endpoint is not a URL'],
    ['', 'endpoint is not a URL'],
    ['https://fcm.googleapis.com/fcm/send/x y', 'endpoint contains spaces or control characters'],
    ['https://fcm.google\napis.com/x', 'endpoint contains spaces or control characters'],
    [longPath(2049), 'endpoint is longer than 2048 characters'],
  ])('refuses %s', (endpoint, reason) => {
    expect(policy.check(endpoint)).toEqual({ ok: false, reason });
  });

  it('refuses a value that is not a string', () => {
    expect(policy.check(42 as unknown as string)).toEqual({
      ok: false,
      reason: 'endpoint must be a string',
    });
  });
});

describe('createEndpointPolicy: operator-added origins', () => {
  const policy = createEndpointPolicy({
    allowedPushOrigins: ['http://127.0.0.1:8090', 'https://push.internal.example/'],
  });

  it.each([
    'http://127.0.0.1:8090/push/4f1c',
    'https://push.internal.example/push/4f1c',
    'https://fcm.googleapis.com/fcm/send/x',
  ])('accepts %s', (endpoint) => {
    expect(policy.check(endpoint).ok).toBe(true);
  });

  it.each([
    ['http://127.0.0.1:8091/push/4f1c', 'endpoint must use https'],
    ['https://127.0.0.1:8090/push/4f1c', 'endpoint host must not be an IP address'],
    ['http://localhost:8090/push/4f1c', 'endpoint must use https'],
    ['http://user@127.0.0.1:8090/push/4f1c', 'endpoint must not contain user info'],
    ['http://push.internal.example/push', 'endpoint must use https'],
    ['https://push.internal.example:444/push', 'endpoint must use the default https port'],
    [
      'https://x.push.internal.example/push',
      'origin https://x.push.internal.example is not an allowed push service',
    ],
  ])('refuses %s', (endpoint, reason) => {
    expect(policy.check(endpoint)).toEqual({ ok: false, reason });
  });

  it.each([
    'ftp://127.0.0.1:21',
    'http://127.0.0.1:8090/push',
    'http://127.0.0.1:8090?x=1',
    'http://user@127.0.0.1:8090',
    '127.0.0.1:8090',
  ])('throws InvalidPushArgumentError for the added origin %s', (origin) => {
    expect(() => createEndpointPolicy({ allowedPushOrigins: [origin] })).toThrow(
      InvalidPushArgumentError,
    );
  });
});
