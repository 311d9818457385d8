import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Browser and multi-process suites start real servers on their own ports; keep files isolated.
    pool: 'forks',
    // No global setup: the suites that need Redis check for it themselves (test/support/redis.ts),
    // as the browser suites check for their browser, so that the others run without either.
  },
});
