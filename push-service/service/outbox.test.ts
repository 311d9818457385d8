import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Faults } from './faults.js';
import { createOutbox } from './outbox.js';
import { createRandom } from './prng.js';
import type { StoredMessage } from './registry.js';

const message = (id: string) => ({ id }) as StoredMessage;

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

const setup = (faults: Faults) => {
  const delivered: string[] = [];
  const outbox = createOutbox({
    faults: () => faults,
    random: createRandom(1),
    deliver: (m) => delivered.push(m.id),
  });
  return { outbox, delivered };
};

describe('outbox', () => {
  it('delivers at once without faults', () => {
    const { outbox, delivered } = setup({});
    outbox.push(message('a'));
    outbox.push(message('b'));
    expect(delivered).toEqual(['a', 'b']);
  });

  it('holds a delayed message until its delay passed', () => {
    const { outbox, delivered } = setup({ delayMs: 100 });
    outbox.push(message('a'));
    vi.advanceTimersByTime(99);
    expect(delivered).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(delivered).toEqual(['a']);
  });

  it('releases a full reorder window at once and a partial one after reorderFlushMs', () => {
    const { outbox, delivered } = setup({ reorderWindow: 3, reorderFlushMs: 40 });
    for (const id of ['a', 'b', 'c', 'd']) outbox.push(message(id));
    expect([...delivered].sort()).toEqual(['a', 'b', 'c']);
    expect(outbox.held()).toBe(1);
    vi.advanceTimersByTime(40);
    expect(delivered).toHaveLength(4);
    expect(delivered[3]).toBe('d');
  });

  it('delivers nothing it held once closed', () => {
    const { outbox, delivered } = setup({ delayMs: 10, reorderWindow: 2 });
    outbox.push(message('a'));
    outbox.close();
    vi.advanceTimersByTime(1000);
    outbox.push(message('b'));
    vi.advanceTimersByTime(1000);
    expect(delivered).toEqual([]);
    expect(outbox.held()).toBe(0);
  });
});
