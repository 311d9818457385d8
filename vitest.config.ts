import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Browser and multi-process suites start real servers on their own ports; keep files isolated.
    pool: 'forks',
    globalSetup: ['test/setup/prerequisites.ts'],
  },
});
