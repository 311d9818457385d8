/**
 * A small benchmark harness. Machines here are shared and noisy, so every figure is a median of
 * several rounds, and every comparison is a ratio against a baseline measured in the same run,
 * interleaved round by round so that a burst of load hits both sides alike.
 */

/** One measured quantity. */
export interface Measurement {
  /** What was measured, e.g. `encrypt.ours`. */
  name: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  samples: number[];
}

/** A ratio of two measurements from the same run. */
export interface Comparison {
  name: string;
  /** `subject / baseline` of the medians; below 1 means the subject needs less. */
  ratio: number;
  subject: string;
  baseline: string;
}

/** What a suite reports. */
export interface SuiteResult {
  suite: string;
  measurements: Measurement[];
  comparisons: Comparison[];
  notes?: string[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function measurement(name: string, unit: string, samples: number[]): Measurement {
  return {
    name,
    unit,
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    samples,
  };
}

export function compare(name: string, subject: Measurement, baseline: Measurement): Comparison {
  return {
    name,
    ratio: subject.median / baseline.median,
    subject: subject.name,
    baseline: baseline.name,
  };
}

/**
 * Times `iterations` calls of each candidate per round, candidates interleaved, and returns the
 * per-call time in microseconds for every round.
 */
export async function timeInterleaved(
  candidates: Record<string, () => unknown>,
  {
    rounds = 7,
    iterations = 500,
    warmup = 200,
  }: { rounds?: number; iterations?: number; warmup?: number } = {},
): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = {};
  for (const [name, fn] of Object.entries(candidates)) {
    samples[name] = [];
    for (let i = 0; i < warmup; i++) await fn();
  }
  for (let round = 0; round < rounds; round++) {
    for (const [name, fn] of Object.entries(candidates)) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) await fn();
      const elapsed = Number(process.hrtime.bigint() - start) / 1000;
      samples[name]?.push(elapsed / iterations);
    }
  }
  return samples;
}
