import { describe, expect, it } from 'vitest';
import { MAX_PUSH_PLAINTEXT_BYTES } from '../protocol/index.js';
import { LIMIT_DEFAULTS, resolveOptions } from './options.js';
import { generateVapidKeys } from './vapid.js';

const vapid = { subject: 'mailto:ops@example.com', ...generateVapidKeys() };

describe('resolveOptions', () => {
  it('fills in every default, and derives the renewal and adoption intervals', () => {
    const resolved = resolveOptions({ vapid });
    expect(resolved).toMatchObject(LIMIT_DEFAULTS);
    expect(resolved).toMatchObject({
      allowedPushOrigins: [],
      allowedOrigins: [],
      keepHeaders: ['authorization', 'cookie'],
      pushTopics: true,
      renewIntervalMs: 20_000,
      adoptIntervalMs: 1_000,
    });
    expect(resolved.instanceId).toMatch(/^[A-Za-z0-9_-]{22,}$/);
  });

  it('keeps what the operator gave, derived intervals included, and lower-cases kept headers', () => {
    const resolved = resolveOptions({
      vapid,
      registrationTtlMs: 9_000,
      leaseTtlMs: 1_000,
      maxStreams: 7,
      keepHeaders: ['Authorization', 'X-Tenant'],
    });
    expect(resolved).toMatchObject({
      registrationTtlMs: 9_000,
      renewIntervalMs: 3_000,
      leaseTtlMs: 1_000,
      adoptIntervalMs: 200,
      maxStreams: 7,
      keepHeaders: ['authorization', 'x-tenant'],
    });
  });

  it.each([
    ['maxStreams', 0],
    ['registrationTtlMs', -1],
    ['maxBodyBytes', 1.5],
    ['renewIntervalMs', Number.NaN],
  ])('refuses %s = %s with a RangeError that names it', (name, value) => {
    expect(() => resolveOptions({ vapid, [name]: value })).toThrow(
      new RangeError(`useWebPush: ${name} must be a positive integer, got ${value}`),
    );
  });

  it('refuses a payload budget one push cannot carry', () => {
    expect(() => resolveOptions({ vapid, maxPayloadBytes: MAX_PUSH_PLAINTEXT_BYTES + 1 })).toThrow(
      RangeError,
    );
  });
});
