/**
 * Profiles of chosen stretches of a bench child, only the measured work and not the set-up
 * around it: CPU (`.cpuprofile`, what `node --cpu-prof` writes) or sampled allocations
 * (`.heapprofile`, what `node --heap-prof` writes); both open in Chrome DevTools and in
 * `profile-summary.ts`. Profiling slows the process, so profiled rounds are never measured ones.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/** What to sample. */
export type ProfileKind = 'cpu' | 'allocations';

let running: { session: Session; kind: ProfileKind } | undefined;

/** Starts sampling: the CPU every 200 µs, or an allocation every 16 KiB. */
export async function startProfile(kind: ProfileKind): Promise<void> {
  if (running) throw new Error('bench: a profile is running');
  const session = new Session();
  session.connect();
  if (kind === 'cpu') {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  } else {
    await session.post('HeapProfiler.enable');
    // Objects collected before the stop count too: what the garbage collector had to do.
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 16_384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  running = { session, kind };
}

/**
 * Stops sampling and writes the profile.
 * @param dir - where
 * @param name - the file's name without extension
 * @returns the file's path
 */
export async function stopProfile(dir: string, name: string): Promise<string> {
  if (!running) throw new Error('bench: no profile started');
  const { session, kind } = running;
  running = undefined;
  const { profile } =
    kind === 'cpu'
      ? await session.post('Profiler.stop')
      : await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  const path = join(dir, `${name}.${kind === 'cpu' ? 'cpuprofile' : 'heapprofile'}`);
  writeFileSync(path, JSON.stringify(profile));
  return path;
}
