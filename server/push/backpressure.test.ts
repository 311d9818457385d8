import { describe, expect, it } from 'vitest';
import { createPendingGate } from './backpressure.js';

const settledNow = async (promise: Promise<void>): Promise<boolean> => {
  let settled = false;
  void promise.then(() => {
    settled = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
};

describe('createPendingGate', () => {
  it('is ready while fewer than the bound are pending', async () => {
    const gate = createPendingGate(2);
    gate.enter();
    expect(gate.pending).toBe(1);
    expect(await settledNow(gate.ready())).toBe(true);
  });

  it('makes ready() wait at the bound, and resolves it once the count falls below', async () => {
    const gate = createPendingGate(2);
    gate.enter();
    gate.enter();
    gate.enter();
    const ready = gate.ready();
    expect(await settledNow(ready)).toBe(false);
    gate.leave();
    expect(gate.pending).toBe(2);
    expect(await settledNow(ready)).toBe(false);
    gate.leave();
    expect(await settledNow(ready)).toBe(true);
  });

  it('resolves every wait for good once opened', async () => {
    const gate = createPendingGate(1);
    gate.enter();
    const ready = gate.ready();
    gate.open();
    expect(await settledNow(ready)).toBe(true);
    gate.enter();
    expect(await settledNow(gate.ready())).toBe(true);
  });

  it('drained() resolves when nothing is pending', async () => {
    const gate = createPendingGate(10);
    expect(await settledNow(gate.drained())).toBe(true);
    gate.enter();
    gate.enter();
    const drained = gate.drained();
    gate.leave();
    expect(await settledNow(drained)).toBe(false);
    gate.leave();
    expect(await settledNow(drained)).toBe(true);
  });
});
