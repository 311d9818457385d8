import { mkdirSync, writeFileSync } from 'node:fs';
import type { SuiteResult } from './harness.js';

/**
 * Runs every benchmark suite (or those named on the command line) and prints one JSON document:
 * `{ node, cpus, startedAt, suites: [{ suite, measurements, comparisons }] }`. The same document
 * is written to `bench/results/latest.json`. Read ratios and medians; absolute figures depend on
 * the machine and its load.
 */
const suites: Record<string, () => Promise<{ run(): Promise<SuiteResult> }>> = {
  encrypt: () => import('./encrypt.js'),
  'idle-memory': () => import('./idle-memory.js'),
  fanout: () => import('./fanout.js'),
  'publish-push': () => import('./publish-push.js'),
  'latency-rtt': () => import('./latency-rtt.js'),
  redis: () => import('./redis.js'),
  stream: () => import('./stream.js'),
  'encryption-pool': () => import('./encryption-pool.js'),
  'pubsub-keys': () => import('./pubsub-keys.js'),
  'firefox-load': () => import('./firefox-load.js'),
};

const wanted = process.argv.slice(2);
const results: SuiteResult[] = [];
for (const [name, load] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stderr.write(`bench: ${name}…\n`);
  const suite = await load();
  results.push(await suite.run());
}

const report = {
  node: process.version,
  cpus: (await import('node:os')).cpus().length,
  startedAt: new Date().toISOString(),
  suites: results,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./results/latest.json', import.meta.url),
  `${JSON.stringify(report, null, 2)}\n`,
);
process.stdout.write(
  `${JSON.stringify(report, (key, value) => (key === 'samples' ? undefined : value), 2)}\n`,
);
